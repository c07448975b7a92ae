"""Loops through the QuantumScheduler: preemption between iterations, tenants sharing the
fleet concurrently, and the flows with their artifacts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_scheduler

from prefect_quantum.blocks import QuantumScheduler
from prefect_quantum.fleet import Fleet
from prefect_quantum.primitives import QuantumEstimator
from prefect_quantum.reservation import ReservationRequest
from prefect_quantum.variational import (
    EstimatorEvaluator,
    LoopConfig,
    LoopResult,
    optimize,
    run_concurrently,
    vqe_problem,
)

pytestmark = pytest.mark.usefixtures("prefect_api")
CONFIG = LoopConfig(optimizer="spsa", max_iterations=8)


def _vqe_loop(estimator: QuantumEstimator, config: LoopConfig = CONFIG,
              on_iteration: Any = None) -> LoopResult:
    hamiltonian, ansatz = vqe_problem("h2")
    return optimize(EstimatorEvaluator(estimator, ansatz, hamiltonian, precision=0.05),
                    np.zeros(ansatz.num_parameters), config, on_iteration=on_iteration)


def _urgent_job(scheduler: QuantumScheduler, hold_s: float, granted: threading.Event) -> None:
    reserver = scheduler.reserver()
    lease = reserver.reserve(ReservationRequest(
        job_id="urgent", tenant="ops", priority="urgent", candidates=("ibm_fez",),
        max_wait_s=60.0, fallback="none", fallback_device="ibm_fez", num_qubits=2,
        shots=100, circuit_shots=100,
    ))
    granted.set()
    time.sleep(hold_s)
    reserver.release(lease, qpu_seconds=hold_s, outcome="completed", shots_done=100)


def test_a_preempted_loop_pauses_resumes_and_finishes_all_iterations(tmp_path: Path) -> None:
    scheduler = make_scheduler(tmp_path, ["ibm_fez"], preemption_grace_s=0.0, min_run_s=0.0)
    granted = threading.Event()
    threads: list[threading.Thread] = []

    def on_iteration(row: dict[str, Any]) -> None:
        if row["iteration"] == 3:  # a higher class arrives while the loop holds the device
            thread = threading.Thread(target=_urgent_job, args=(scheduler, 0.3, granted))
            thread.start()
            threads.append(thread)
            while not any(r["job_id"] == "urgent" for r in scheduler.store.queue()):
                time.sleep(0.01)

    with QuantumEstimator(scheduler=scheduler, tenant="lab", priority="low", seed=3) as est:
        result = _vqe_loop(est, on_iteration=on_iteration)
        job_id = est.runtime.session.request.job_id  # type: ignore[union-attr]
    threads[0].join()
    assert granted.is_set()
    rows = result.rows
    assert rows["iteration"].to_list() == list(range(1, CONFIG.max_iterations + 1))
    assert rows["paused"].to_list() == [False] * 3 + [True] + [False] * 4
    assert rows["pauses"].to_list()[-1] == 1 and result.pauses == 1
    assert rows.row(3, named=True)["wait_s"] >= 0.3  # the urgent job held the device
    assert "preempted" in [a["kind"] for a in scheduler.store.audit(job_id)]
    # The pause changes nothing else: same seeds, same trajectory as an undisturbed loop.
    quiet = make_scheduler(tmp_path / "quiet", ["ibm_fez"])
    with QuantumEstimator(scheduler=quiet, tenant="lab", priority="low", seed=3) as est:
        undisturbed = _vqe_loop(est)
    assert rows["energy"].to_list() == undisturbed.rows["energy"].to_list()


def test_tenants_share_the_fleet_concurrently(tmp_path: Path, fez_fleet: Fleet) -> None:
    scheduler = make_scheduler(tmp_path, ["ibm_fez"])
    events: list[tuple[float, str, int]] = []
    lock = threading.Lock()

    def loop(tenant: str, **options: Any) -> LoopResult:
        def record(row: dict[str, Any]) -> None:
            with lock:
                events.append((time.monotonic(), tenant, row["iteration"]))

        config = LoopConfig(optimizer="spsa", max_iterations=20 if tenant == "carol" else 5)
        with QuantumEstimator(tenant=tenant, **options) as est:
            return _vqe_loop(est, config, on_iteration=record)

    alice, bob, carol = run_concurrently([
        lambda: loop("alice", scheduler=scheduler),
        lambda: loop("bob", scheduler=scheduler),
        lambda: loop("carol", fleet=fez_fleet, device="ideal"),  # no queue at all
    ])
    assert [r.iterations for r in (alice, bob, carol)] == [5, 5, 20]
    # One device, one session at a time: the second tenant queued for the first's session.
    first, second = sorted((alice, bob), key=lambda r: r.rows["wait_s"][0])
    assert second.rows["wait_s"][0] > 0
    holder = "alice" if first is alice else "bob"
    waiter = "bob" if holder == "alice" else "alice"
    waiter_start = min(t for t, who, _ in events if who == waiter)
    holder_end = max(t for t, who, _ in events if who == holder)
    assert waiter_start > holder_end
    # ... while the process kept working: the loop that needs no queue iterated meanwhile.
    assert any(who == "carol" and t < waiter_start for t, who, _ in events)
    charged = {u["tenant"] for u in scheduler.store.usage()}
    assert {"alice", "bob"} <= charged
    assert set(alice.rows["backend_kind"]) == {"qpu"} and set(carol.rows["device"]) == {
        "simulator:ideal"}


def test_flows_publish_rows_plot_and_summary(tmp_path: Path, fez_fleet: Fleet) -> None:
    from prefect.artifacts import Artifact

    from flows import qaoa, vqe

    result = vqe(model="h2", device="ideal", fleet=fez_fleet, precision=0.0, max_iterations=30,
                 plot_path=str(tmp_path / "vqe.png"), checkpoint_path=str(tmp_path / "v.json"))
    assert result.loop.iterations == 30 or result.loop.stop_reason == "converged"
    assert (tmp_path / "vqe.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "v.json").exists()
    for key in ("vqe-h2-iterations", "vqe-h2-convergence", "vqe-h2-summary"):
        assert Artifact.get(key) is not None, key
    image = Artifact.get("vqe-h2-convergence")
    assert image is not None and str(image.data).startswith("data:image/png;base64,")
    outcome = qaoa(edges=[(0, 1), (1, 2), (2, 3), (3, 0)], reps=1, device="ideal",
                   fleet=fez_fleet, precision=0.0, max_iterations=30, shots=500)
    assert outcome.max_cut == 4 and outcome.shots == 500
    assert Artifact.get("qaoa-maxcut-summary") is not None
