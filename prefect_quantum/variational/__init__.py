"""Variational loops on the shared fleet: optimizers, checkpoints, rows, VQE and QAOA.

>>> from prefect_quantum.variational import run_vqe, LoopConfig  # doctest: +SKIP
>>> result = run_vqe("h2", device="ideal", precision=0.0)  # doctest: +SKIP
>>> result.loop.rows.select("iteration", "energy", "device")  # doctest: +SKIP
"""

from .concurrent import run_concurrently
from .loop import (
    EstimatorEvaluator,
    Evaluation,
    Evaluator,
    LoopConfig,
    LoopResult,
    optimize,
)
from .optimizers import CobylaSettings, SpsaSettings
from .problems import (
    default_graph,
    exact_ground_energy,
    h2_hamiltonian,
    max_cut,
    maxcut_hamiltonian,
    qaoa_ansatz,
    tfim_hamiltonian,
)
from .qaoa import QAOAResult, run_qaoa
from .report import convergence_png, publish
from .vqe import VQEResult, run_vqe, vqe_problem

__all__ = [
    "CobylaSettings",
    "EstimatorEvaluator",
    "Evaluation",
    "Evaluator",
    "LoopConfig",
    "LoopResult",
    "QAOAResult",
    "SpsaSettings",
    "VQEResult",
    "convergence_png",
    "default_graph",
    "exact_ground_energy",
    "h2_hamiltonian",
    "max_cut",
    "maxcut_hamiltonian",
    "optimize",
    "publish",
    "qaoa_ansatz",
    "run_concurrently",
    "run_qaoa",
    "run_vqe",
    "tfim_hamiltonian",
    "vqe_problem",
]
