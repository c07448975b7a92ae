"""The variational loop: optimizer, per-iteration rows, checkpoint, early stopping.

``optimize`` works on any ``evaluate(points) -> Evaluation``; :class:`EstimatorEvaluator`
makes one from an EstimatorV2 (ours, through the scheduler, or any other). It is plain
Python: call it in a notebook, a thread, or inside a Prefect flow.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.quantum_info import SparsePauliOp

from prefect_quantum.errors import InvalidInputError

from .checkpoint import LoopState, load_state, save_state
from .optimizers import (
    CobylaSettings,
    OptimizerName,
    SpsaSettings,
    StopLoop,
    run_cobyla,
    run_spsa,
)

ROW_SCHEMA: dict[str, Any] = {
    "iteration": pl.Int64, "energy": pl.Float64, "stderr": pl.Float64,
    "best_energy": pl.Float64, "device": pl.String, "backend_kind": pl.String,
    "calibration_snapshot": pl.String, "paused": pl.Boolean, "pauses": pl.Int64,
    "wait_s": pl.Float64, "wall_s": pl.Float64, "elapsed_s": pl.Float64,
    "points": pl.Int64, "params": pl.List(pl.Float64), "from_checkpoint": pl.Boolean,
}


@dataclass(frozen=True)
class Evaluation:
    """Energies and standard errors of a batch of parameter sets, and the run's metadata."""

    energies: np.ndarray
    stderrs: np.ndarray
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Evaluator(Protocol):
    """Evaluates the energy at each row of ``points`` (shape ``(k, num_parameters)``)."""

    def __call__(self, points: np.ndarray) -> Evaluation: ...


class EstimatorEvaluator:
    """``<ansatz(x)|H|ansatz(x)>`` for a batch of ``x``: one estimator run per call."""

    def __init__(self, estimator: BaseEstimatorV2, ansatz: QuantumCircuit,
                 hamiltonian: SparsePauliOp, precision: float | None = None) -> None:
        self.estimator = estimator
        self.ansatz = ansatz
        self.hamiltonian = hamiltonian
        self.precision = precision

    def __call__(self, points: np.ndarray) -> Evaluation:
        result = self.estimator.run(
            [(self.ansatz, self.hamiltonian, points)], precision=self.precision
        ).result()
        data = result[0].data
        return Evaluation(np.asarray(data.evs, dtype=float).reshape(-1),
                          np.asarray(data.stds, dtype=float).reshape(-1), dict(result.metadata))

    @property
    def run_count(self) -> int | None:
        """The estimator's run counter (seeds of later runs follow it), if it has one."""
        runtime = getattr(self.estimator, "runtime", None)
        return None if runtime is None else int(runtime.run_count)

    @run_count.setter
    def run_count(self, value: int) -> None:
        runtime = getattr(self.estimator, "runtime", None)
        if runtime is not None:
            runtime.run_count = value


@dataclass(frozen=True)
class LoopConfig:
    """How to optimize and when to stop.

    The loop stops after ``max_iterations``, when the optimizer converges, when the best
    energy has not improved by ``min_delta`` for ``patience`` iterations, or when an energy
    reaches ``target_energy``.
    """

    optimizer: OptimizerName = "cobyla"
    max_iterations: int = 100
    patience: int | None = None
    min_delta: float = 1e-4
    target_energy: float | None = None
    seed: int = 0
    cobyla: CobylaSettings = field(default_factory=CobylaSettings)
    spsa: SpsaSettings = field(default_factory=SpsaSettings)

    def __post_init__(self) -> None:
        if self.optimizer not in ("cobyla", "spsa"):
            raise InvalidInputError("optimizer", f"expected 'cobyla' or 'spsa', got "
                                    f"{self.optimizer!r}")
        if self.max_iterations < 1:
            raise InvalidInputError("max_iterations", "must be >= 1")
        if self.patience is not None and self.patience < 1:
            raise InvalidInputError("patience", "must be >= 1")


@dataclass
class LoopResult:
    """Where the loop ended: the best point seen, the table, why it stopped."""

    x: np.ndarray
    energy: float
    stderr: float
    final_x: np.ndarray
    """The optimizer's own last point (SPSA's estimate; COBYLA's last trial)."""
    rows: pl.DataFrame
    stop_reason: str
    restored_iterations: int
    """Iterations replayed from a checkpoint instead of run."""

    @property
    def iterations(self) -> int:
        """Iterations in the table (replayed and run)."""
        return self.rows.height

    @property
    def pauses(self) -> int:
        """How often the loop yielded its device to a higher class."""
        return int(self.rows["paused"].sum()) if self.rows.height else 0


def fingerprint(config: LoopConfig, x0: np.ndarray, label: str) -> str:
    """Identity of a loop, so a checkpoint is never resumed by a different one."""
    doc = json.dumps({"label": label, "config": asdict(config), "x0": np.round(x0, 12).tolist()},
                     sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def optimize(
    evaluate: Evaluator,
    x0: np.ndarray,
    config: LoopConfig | None = None,
    *,
    checkpoint_path: str | Path | None = None,
    label: str = "",
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
) -> LoopResult:
    """Run the loop from ``x0`` (or resume it from ``checkpoint_path``).

    ``label`` names the problem in the checkpoint's fingerprint; ``on_iteration`` sees each
    new row (progress bars, logging).
    """
    config = config or LoopConfig()
    x0 = np.asarray(x0, dtype=float)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    ident = fingerprint(config, x0, label)
    state = (load_state(path, ident) if path else None) or LoopState(ident)
    run = _Run(evaluate, config, state, path, on_iteration)
    try:
        if config.optimizer == "cobyla":
            final = run_cobyla(run.step, x0, config.max_iterations, config.cobyla)
        else:
            final = run_spsa(run.step, x0, config.max_iterations, config.spsa, config.seed)
        reason = "converged"
    except StopLoop as stop:
        final, reason = run.last_point(x0), str(stop)
    return run.result(final, reason)


class _Run:
    """One pass of the loop over a (possibly restored) state."""

    def __init__(self, evaluate: Evaluator, config: LoopConfig, state: LoopState,
                 path: Path | None, on_iteration: Callable[[dict[str, Any]], None] | None
                 ) -> None:
        self.evaluate = evaluate
        self.config = config
        self.state = state
        self.path = path
        self.on_iteration = on_iteration
        self.restored = len(state.evaluations)
        self.calls = 0
        self.started = time.perf_counter()
        self.elapsed_before = float(state.rows[-1]["elapsed_s"]) if state.rows else 0.0
        if state.run_count is not None and hasattr(evaluate, "run_count"):
            evaluate.run_count = state.run_count

    def step(self, points: np.ndarray) -> np.ndarray:
        i = self.calls
        self.calls += 1
        if i < self.restored:
            record = self.state.evaluations[i]
            if not np.allclose(np.asarray(record["points"]), points, rtol=0, atol=1e-9):
                raise InvalidInputError(
                    "checkpoint_path", f"replay diverged at iteration {i + 1}: the optimizer "
                    "proposed other parameters than the checkpoint recorded")
            energies = np.asarray(record["energies"], dtype=float)
        else:
            energies = self._live(i, points)
        self._maybe_stop(i)
        return energies

    def _live(self, i: int, points: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        evaluation = self.evaluate(points)
        wall = time.perf_counter() - start
        meta = evaluation.metadata
        energy, stderr = float(evaluation.energies[0]), float(evaluation.stderrs[0])
        previous = self.state.rows[-1]["best_energy"] if self.state.rows else np.inf
        row = {
            "iteration": i + 1, "energy": energy, "stderr": stderr,
            "best_energy": min(previous, energy),
            "device": meta.get("device"), "backend_kind": meta.get("backend_kind"),
            "calibration_snapshot": meta.get("calibration_snapshot"),
            "paused": bool(meta.get("paused", False)), "pauses": int(meta.get("pauses", 0)),
            "wait_s": float(meta.get("wait_s", 0.0)), "wall_s": wall,
            "elapsed_s": self.elapsed_before + time.perf_counter() - self.started,
            "points": int(points.shape[0]), "params": [float(v) for v in points[0]],
        }
        self.state.evaluations.append({
            "points": points.tolist(), "energies": evaluation.energies.tolist(),
            "stderrs": evaluation.stderrs.tolist(),
        })
        self.state.rows.append(row)
        self.state.run_count = getattr(self.evaluate, "run_count", None)
        if self.path is not None:
            save_state(self.path, self.state)
        if self.on_iteration is not None:
            self.on_iteration(row)
        return np.asarray(evaluation.energies, dtype=float)

    def _maybe_stop(self, i: int) -> None:
        rows, config = self.state.rows, self.config
        if i >= len(rows):
            return
        if config.target_energy is not None and rows[i]["energy"] <= config.target_energy:
            raise StopLoop("target_energy")
        if i + 1 >= config.max_iterations:
            raise StopLoop("max_iterations")
        if config.patience is not None and i + 1 > config.patience:
            before = rows[i - config.patience]["best_energy"]
            if before - rows[i]["best_energy"] < config.min_delta:
                raise StopLoop("early_stopping")

    def last_point(self, x0: np.ndarray) -> np.ndarray:
        if not self.state.evaluations:
            return x0
        return np.asarray(self.state.evaluations[-1]["points"][0], dtype=float)

    def result(self, final: np.ndarray, reason: str) -> LoopResult:
        rows = self.state.rows
        frame = pl.DataFrame(
            [{**r, "from_checkpoint": k < self.restored} for k, r in enumerate(rows)],
            schema=ROW_SCHEMA,
        )
        if not rows:
            raise InvalidInputError("max_iterations", "the loop ran no iteration")
        best = min(range(len(rows)), key=lambda k: rows[k]["energy"])
        return LoopResult(
            x=np.asarray(rows[best]["params"], dtype=float), energy=float(rows[best]["energy"]),
            stderr=float(rows[best]["stderr"]), final_x=np.asarray(final, dtype=float),
            rows=frame, stop_reason=reason, restored_iterations=self.restored,
        )
