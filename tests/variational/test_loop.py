"""The loop: crash and resume from the checkpoint, early stopping, rows, refusing a foreign
checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.fleet import Fleet
from prefect_quantum.primitives import QuantumEstimator
from prefect_quantum.variational import (
    EstimatorEvaluator,
    Evaluation,
    LoopConfig,
    LoopResult,
    optimize,
    vqe_problem,
)
from prefect_quantum.variational.vqe import initial_point


class Crash(RuntimeError):
    """The process dies mid-loop."""


class CrashingEvaluator:
    """Delegates to ``inner`` and raises on its ``crash_at``-th call."""

    def __init__(self, inner: EstimatorEvaluator, crash_at: int) -> None:
        self.inner, self.crash_at, self.calls = inner, crash_at, 0

    def __call__(self, points: np.ndarray) -> Evaluation:
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash
        return self.inner(points)

    @property
    def run_count(self) -> int | None:
        return self.inner.run_count

    @run_count.setter
    def run_count(self, value: int) -> None:
        self.inner.run_count = value


def _loop(fleet: Fleet, config: LoopConfig, path: Path | None, crash_at: int | None = None
          ) -> LoopResult:
    hamiltonian, ansatz = vqe_problem("h2")
    with QuantumEstimator(fleet=fleet, device="ibm_fez", seed=7) as est:
        evaluate = EstimatorEvaluator(est, ansatz, hamiltonian, precision=0.05)
        target = evaluate if crash_at is None else CrashingEvaluator(evaluate, crash_at)
        return optimize(target, initial_point("h2", 4, 0), config, checkpoint_path=path,
                        label="h2")


@pytest.mark.parametrize("optimizer", ["cobyla", "spsa"])
def test_crashed_loop_resumes_where_it_stopped(fez_fleet: Fleet, tmp_path: Path,
                                               optimizer: str) -> None:
    config = LoopConfig(optimizer=optimizer, max_iterations=12)  # type: ignore[arg-type]
    path = tmp_path / "state.json"
    with pytest.raises(Crash):
        _loop(fez_fleet, config, path, crash_at=6)
    resumed = _loop(fez_fleet, config, path)
    uninterrupted = _loop(fez_fleet, config, None)
    assert resumed.restored_iterations == 5
    rows = resumed.rows
    assert rows.height == 12 and rows["iteration"].to_list() == list(range(1, 13))
    assert rows["from_checkpoint"].to_list() == [True] * 5 + [False] * 7
    # Same seeds, same replayed optimizer state: the same trajectory as without the crash.
    assert rows["energy"].to_list() == uninterrupted.rows["energy"].to_list()
    np.testing.assert_array_equal(resumed.x, uninterrupted.x)


def test_a_checkpoint_of_another_loop_is_refused(fez_fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    _loop(fez_fleet, LoopConfig(max_iterations=2), path)
    with pytest.raises(InvalidInputError, match="another loop"):
        _loop(fez_fleet, LoopConfig(max_iterations=2, optimizer="spsa"), path)


def test_early_stopping_and_target(fez_fleet: Fleet) -> None:
    hamiltonian, ansatz = vqe_problem("h2")
    with QuantumEstimator(fleet=fez_fleet, device="ideal", default_precision=0.0) as est:
        evaluate = EstimatorEvaluator(est, ansatz, hamiltonian)
        x0 = initial_point("h2", 4, 0)
        stopped = optimize(evaluate, x0, LoopConfig(max_iterations=500, patience=5,
                                                    min_delta=1e-3))
        target = optimize(evaluate, x0, LoopConfig(max_iterations=500, target_energy=-1.85))
    assert stopped.stop_reason == "early_stopping" and stopped.iterations < 500
    best = stopped.rows["best_energy"].to_list()
    assert best[-6] - best[-1] < 1e-3
    assert target.stop_reason == "target_energy" and target.energy <= -1.85


def test_rows_record_device_and_parameters(fez_fleet: Fleet) -> None:
    hamiltonian, ansatz = vqe_problem("h2")
    with QuantumEstimator(fleet=fez_fleet, device="ibm_fez") as est:
        result = optimize(EstimatorEvaluator(est, ansatz, hamiltonian, 0.05),
                          np.zeros(4), LoopConfig(max_iterations=3))
    row = result.rows.row(0, named=True)
    assert row["device"] == "ibm_fez" and row["backend_kind"] == "qpu"
    assert row["calibration_snapshot"] == fez_fleet.get("ibm_fez").snapshot_id
    assert row["params"] == [0.0] * 4 and row["paused"] is False and row["wall_s"] > 0
    assert result.stop_reason == "max_iterations" and result.iterations == 3
