"""VQE: the ground-state energy of a small model, with the loop of :mod:`.loop`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.quantum_info import SparsePauliOp

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.primitives import PrimitiveOptions, QuantumEstimator

from .loop import EstimatorEvaluator, LoopConfig, LoopResult, optimize
from .problems import (
    exact_ground_energy,
    h2_hamiltonian,
    hardware_efficient_ansatz,
    tfim_hamiltonian,
)

Model = Literal["h2", "tfim"]


@dataclass
class VQEResult:
    """The loop's outcome next to the exact answer."""

    model: str
    loop: LoopResult
    exact_energy: float
    hamiltonian: SparsePauliOp
    ansatz: QuantumCircuit
    energy: float
    """The energy at ``loop.x``: re-measured at ``final_precision`` when one was given
    (free of the optimizer's pick-the-lowest bias), else the loop's best."""
    stderr: float

    @property
    def error(self) -> float:
        """``energy`` minus the exact ground energy."""
        return self.energy - self.exact_energy


def vqe_problem(model: Model) -> tuple[SparsePauliOp, QuantumCircuit]:
    """The Hamiltonian and ansatz of a named model: ``h2`` (2 qubits) or ``tfim`` (4)."""
    if model == "h2":
        return h2_hamiltonian(), hardware_efficient_ansatz(2, reps=1)
    if model == "tfim":
        return tfim_hamiltonian(4), hardware_efficient_ansatz(4, reps=2)
    raise InvalidInputError("model", f"expected 'h2' or 'tfim', got {model!r}")


def initial_point(model: Model, num_parameters: int, seed: int) -> np.ndarray:
    """A start near a product state: Hartree-Fock ``|01>`` for ``h2``, ``|0...0>`` otherwise,
    plus a small seeded perturbation."""
    x0 = np.random.default_rng(seed).uniform(-0.1, 0.1, num_parameters)
    if model == "h2":
        x0[2] += np.pi  # the final RY on qubit 0 prepares |01> after the CX acted on |00>
    return x0


def run_vqe(
    model: Model = "h2",
    *,
    config: LoopConfig | None = None,
    precision: float | None = None,
    x0: np.ndarray | None = None,
    estimator: BaseEstimatorV2 | None = None,
    options: PrimitiveOptions | None = None,
    checkpoint_path: str | Path | None = None,
    final_precision: float | None = None,
    **option_overrides: Any,
) -> VQEResult:
    """Minimize ``<H>`` over the model's ansatz.

    Uses ``estimator`` if given, else a :class:`QuantumEstimator` from ``options`` and
    ``option_overrides`` (``scheduler``, ``device``, ``tenant``, ``mitigation``, ...),
    closed at the end. ``precision`` is per evaluation (0: exact, ideal simulator only);
    ``final_precision`` re-measures the best point once more after the loop.
    """
    config = config or LoopConfig()
    hamiltonian, ansatz = vqe_problem(model)
    if x0 is None:
        x0 = initial_point(model, ansatz.num_parameters, config.seed)
    own = estimator is None
    est = estimator if estimator is not None else QuantumEstimator(options, **option_overrides)
    try:
        evaluate = EstimatorEvaluator(est, ansatz, hamiltonian, precision)
        loop = optimize(evaluate, x0, config, checkpoint_path=checkpoint_path,
                        label=f"vqe:{model}")
        energy, stderr = loop.energy, loop.stderr
        if final_precision is not None:
            final = EstimatorEvaluator(est, ansatz, hamiltonian, final_precision)(loop.x[None, :])
            energy, stderr = float(final.energies[0]), float(final.stderrs[0])
    finally:
        if own and isinstance(est, QuantumEstimator):
            est.close()
    return VQEResult(model, loop, exact_ground_energy(hamiltonian), hamiltonian, ansatz,
                     energy, stderr)
