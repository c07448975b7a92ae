"""``vqe``: the ground-state energy of H2 or a 4-site Ising chain, as a Prefect flow.

    python -m flows.vqe                       # H2 on the default fleet's best device

Publishes a per-iteration table, a convergence plot and a summary as artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from prefect_quantum.blocks import QuantumScheduler
from prefect_quantum.fleet import Fleet
from prefect_quantum.primitives import PrimitiveOptions
from prefect_quantum.variational import LoopConfig, VQEResult, convergence_png, publish, run_vqe
from prefect_quantum.variational.optimizers import OptimizerName
from prefect_quantum.variational.report import save_png
from prefect_quantum.variational.vqe import Model


@flow(name="vqe", validate_parameters=False)
def vqe(
    model: Model = "h2",
    optimizer: OptimizerName = "cobyla",
    max_iterations: int = 100,
    precision: float | None = None,
    mitigation: str = "none",
    device: str | None = None,
    tenant: str = "default",
    priority: str = "normal",
    scheduler: QuantumScheduler | None = None,
    fleet: Fleet | None = None,
    checkpoint_path: str | None = None,
    patience: int | None = None,
    final_precision: float | None = None,
    seed: int = 0,
    plot_path: str | None = None,
    x0: list[float] | None = None,
) -> VQEResult:
    """Run VQE and publish its artifacts.

    Args:
        model: ``h2`` (2 qubits, Hartree) or ``tfim`` (4-site transverse-field Ising).
        optimizer: ``cobyla`` or ``spsa``.
        max_iterations: Estimator runs at most (one per iteration).
        precision: Target precision per evaluation (shots = 1/precision²); 0 means exact,
            on the ideal simulator only.
        mitigation: ``none``, ``rem``, ``zne`` or ``zne+rem``.
        device: A fleet device, or ``ideal``; with a scheduler, restricts its leases.
        tenant: Who the QPU time is charged to.
        priority: The scheduler's priority class.
        scheduler: The shared scheduler block (one session for the whole loop).
        fleet: The devices without a scheduler (default fleet when omitted).
        checkpoint_path: JSON file of the optimizer state; a rerun resumes from it.
        patience: Stop when the best energy has not improved for this many iterations.
        final_precision: Re-measure the best point at this precision after the loop.
        seed: Seeds the start point, SPSA and every execution.
        plot_path: Also write the convergence PNG here.
        x0: Start point (default: near Hartree-Fock for H2, near |0000> for the chain).
    """
    options = PrimitiveOptions(scheduler=scheduler, fleet=fleet, device=device, tenant=tenant,
                               priority=priority, mitigation=mitigation,  # type: ignore[arg-type]
                               seed=seed)
    config = LoopConfig(optimizer=optimizer, max_iterations=max_iterations, patience=patience,
                        seed=seed)
    result = run_vqe(model, config=config, precision=precision, options=options,
                     checkpoint_path=checkpoint_path, final_precision=final_precision,
                     x0=None if x0 is None else _array(x0))
    png = convergence_png(result.loop.rows, exact=result.exact_energy, title=f"VQE {model}")
    if plot_path:
        save_png(png, plot_path)
    publish(result.loop.rows, png, key=f"vqe-{model}", summary=_summary(result))
    return result


def _array(values: list[float]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=float)


def _summary(result: VQEResult) -> str:
    loop = result.loop
    last = loop.rows.row(-1, named=True)
    return (
        f"# VQE {result.model}\n\n"
        f"| energy | ± | exact | error | iterations | stop | pauses | device | backend |\n"
        f"|---|---|---|---|---|---|---|---|---|\n"
        f"| {result.energy:.6f} | {result.stderr:.6f} | {result.exact_energy:.6f} | "
        f"{result.error:.2e} | {loop.iterations} | {loop.stop_reason} | {loop.pauses} | "
        f"{last['device']} | {last['backend_kind']} |\n"
    )


if __name__ == "__main__":
    outcome = vqe(plot_path=str(Path("vqe-convergence.png")))
    print(f"E = {outcome.energy:.6f} (exact {outcome.exact_energy:.6f})")
