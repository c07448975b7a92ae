"""hybrid_job through the QuantumScheduler block: leases, usage, preemption, retries, fallback.

Tests are named after the rules of docs/scheduling.md.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prefect.events.worker import EventsWorker
from pydantic import SecretStr

from prefect_quantum import hybrid_job
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

pytestmark = pytest.mark.usefixtures("prefect_api")


def _scheduler(
    tmp_path: Path, devices: list[str], time_scale: float = 0.0, **policy: object
) -> QuantumScheduler:
    return QuantumScheduler(
        store_url=SecretStr(f"sqlite:///{tmp_path / 'sched.db'}"),
        fleet_config=QuantumFleet(devices=devices, time_scale=time_scale),
        **policy,  # type: ignore[arg-type]
    )


def test_S1_job_is_granted_charged_and_audited(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels", "ibm_kyiv"])
    result = hybrid_job(["ghz:3"], shots=1000, tenant="chem", scheduler=scheduler)
    row = result.to_dicts()[0]
    assert row["backend_kind"] == "qpu" and row["shots"] == 1000
    usage = {u["tenant"]: u for u in scheduler.store.usage()}
    assert usage["chem"]["decayed_qpu_s"] > 0
    kinds = [a["kind"] for a in scheduler.store.audit(result.job_id)]
    assert kinds[0] == "submitted" and "granted" in kinds and "completed" in kinds


def test_P7_preempted_job_resumes_and_keeps_exact_shots(tmp_path: Path) -> None:
    scheduler = _scheduler(
        tmp_path, ["ibm_brussels"], time_scale=3.0, preemption_grace_s=0.0, min_run_s=0.0
    )
    results: dict[str, object] = {}

    def low() -> None:
        results["low"] = hybrid_job(
            ["ghz:3"], shots=4000, tenant="batch", priority="low", scheduler=scheduler,
            options={"chunk_shots": 250, "job_id": "low-job"},
        )

    thread = threading.Thread(target=low)
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until the low job holds the device
        if any(r["state"] == "running" for r in scheduler.store.queue()):
            break
        time.sleep(0.05)
    urgent = hybrid_job(["bell"], shots=500, tenant="ops", priority="urgent",
                        scheduler=scheduler, options={"chunk_shots": 250})
    thread.join(120)
    low_result = results["low"]
    assert urgent.to_dicts()[0]["backend_kind"] == "qpu"
    runs = low_result.device_runs.to_dicts()  # type: ignore[attr-defined]
    assert runs[0]["status"] == "preempted"
    assert runs[-1]["status"] == "completed"
    assert low_result.to_dicts()[0]["shots"] == 4000  # type: ignore[attr-defined]
    kinds = [a["kind"] for a in scheduler.store.audit("low-job")]
    assert "preempt_requested" in kinds or "preempted" in kinds


def test_R1_device_offline_mid_job_retries_on_another_device(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels", "ibm_strasbourg"], retry_backoff_s=0.1)
    scheduler.fleet.get("ibm_brussels").schedule_outage(after_chunks=1)
    scheduler.fleet.get("ibm_strasbourg").schedule_outage(after_chunks=1)
    # The first device the job lands on fails after one chunk; the retry uses the other one,
    # which fails too; the next retry has nowhere to go and the job falls back ([B1]).
    result = hybrid_job(["ghz:3"], shots=2000, scheduler=scheduler,
                        options={"chunk_shots": 500})
    runs = result.device_runs.to_dicts()
    assert [r["status"] for r in runs[:2]] == ["offline", "offline"]
    row = result.to_dicts()[0]
    assert row["backend_kind"] == "simulator-fallback"
    assert row["shots"] == 2000
    assert row["fallback_reason"]


def test_B1_no_eligible_device_falls_back_with_reason(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels"])
    scheduler.fleet.get("ibm_brussels").online = False
    result = hybrid_job(["ghz:3"], shots=300, scheduler=scheduler)
    row = result.to_dicts()[0]
    assert row["backend_kind"] == "simulator-fallback"
    assert row["fallback_reason"]
    assert any(a["kind"] == "fell_back" for a in scheduler.store.audit(result.job_id))


def test_S2_events_name_the_job_tenant_and_device(
    tmp_path: Path, asserting_events_worker: EventsWorker
) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels"])
    result = hybrid_job(["ghz:3"], shots=200, tenant="chem", scheduler=scheduler)
    asserting_events_worker.drain()
    events = [
        e for e in asserting_events_worker._client.events  # type: ignore[attr-defined]
        if e.event.startswith("prefect-quantum.job.")
    ]
    names = [e.event.rsplit(".", 1)[-1] for e in events]
    assert names == ["submitted", "granted", "completed"]
    granted = events[1]
    assert granted.resource.id == f"prefect-quantum.job.{result.job_id}"
    related = {r.id for r in granted.related}
    assert {"prefect-quantum.tenant.chem", "prefect-quantum.device.ibm_brussels"} <= related


def test_L3_rerun_of_a_crashed_job_id_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels"], lease_ttl_s=1.0)
    # A run that dies after two chunks: it checkpointed 1000 shots and never released.
    reserver = scheduler.reserver()
    from prefect_quantum import pipeline
    from prefect_quantum.job import JobRequest
    from prefect_quantum.tasks import JobRun

    request = JobRequest.build(["ghz:3"], 2000, options={"job_id": "crashy", "chunk_shots": 500})
    run = JobRun(pipeline.prepare(request), scheduler.fleet, reserver)
    run.compiled = pipeline.compile_for(run.job, [scheduler.fleet.get("ibm_brussels")])
    run.checks = pipeline.check_calibration(
        run.job, [scheduler.fleet.get("ibm_brussels")], run.compiled
    )
    lease = reserver.reserve(run.reservation_request())
    device = scheduler.fleet.get(lease.device)
    partial = pipeline.run_batch(
        device, run.compiled[lease.device], run.job, should_stop=lambda p: p.shots_done >= 1000
    )
    reserver.save_checkpoint(lease, {**partial.checkpoint().to_dict(), "device": device.name})
    # ... the process is gone; the same job id runs again once the lease has expired.
    time.sleep(1.2)
    result = hybrid_job(["ghz:3"], shots=2000, scheduler=scheduler,
                        options={"job_id": "crashy", "chunk_shots": 500})
    run_rows = result.device_runs.to_dicts()
    assert result.to_dicts()[0]["shots"] == 2000
    assert run_rows[-1]["chunks"] == 2  # only the remaining 1000 shots ran
    kinds = [a["kind"] for a in scheduler.store.audit("crashy")]
    assert "expired" in kinds


def test_L3_L6_crash_mid_execute_resumes_from_the_periodic_checkpoint_charging_once(
    tmp_path: Path,
) -> None:
    from prefect_quantum import progress

    scheduler = _scheduler(tmp_path, ["ibm_brussels"], lease_ttl_s=1.0)
    options = {"job_id": "dies", "chunk_shots": 500, "checkpoint_interval_s": 0.0}

    def die_at_1500(job_id: str, done: int, total: int) -> None:
        if done == 1500:  # the process dies before the 1500-shot checkpoint is saved
            raise RuntimeError("worker died")

    with progress.listening(die_at_1500), pytest.raises(RuntimeError, match="worker died"):
        hybrid_job(["ghz:3"], shots=3000, scheduler=scheduler, options=options)
    assert scheduler.store.load_checkpoint("dies")["shots_done"] == 1000  # type: ignore[index]
    dead_lease = scheduler.store.queue()[0]["lease_id"]
    # [L6] the re-run waits for the dead run's lease to expire, then resumes on its own.
    result = hybrid_job(["ghz:3"], shots=3000, scheduler=scheduler, options=options)
    assert result.to_dicts()[0]["shots"] == 3000
    assert result.device_runs.to_dicts()[-1]["chunks"] == 4  # 1000 done, 2000 to go
    ledger = scheduler.store.ledger()
    assert [(r["lease_id"] == dead_lease, r["outcome"]) for r in ledger] == [
        (True, "expired"), (False, "completed")]
    # The new lease is charged for the shots it ran; the checkpointed ones were the dead
    # lease's, which is charged for the time it held the device.
    device = scheduler.fleet.get("ibm_brussels")
    assert ledger[1]["qpu_seconds"] == pytest.approx(device.qpu_seconds(2000), rel=1e-9)


def test_L4_session_yields_between_iterations_and_resumes(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path, ["ibm_brussels"], preemption_grace_s=0.0, min_run_s=0.0)
    done: dict[str, object] = {}
    with scheduler.session(tenant="loop", priority="low", num_qubits=2) as session:
        first = session.begin_iteration()
        session.end_iteration()
        assert first.device == "ibm_brussels" and first.backend_kind == "qpu"
        urgent = threading.Thread(target=lambda: done.update(r=hybrid_job(
            ["bell"], shots=200, tenant="ops", priority="urgent", scheduler=scheduler)))
        urgent.start()
        deadline = time.time() + 60
        while time.time() < deadline and not any(
            lease_row.get("preemption_requested") for lease_row in scheduler.store.leases()
        ):
            time.sleep(0.05)
        again = session.begin_iteration()  # yields, waits for the urgent job, gets it back
        session.end_iteration()
        urgent.join(60)
    assert session.pauses == 1 and session.iterations == 2
    assert again.device == "ibm_brussels"
    assert done["r"].to_dicts()[0]["backend_kind"] == "qpu"  # type: ignore[attr-defined]


def test_R1_only_transient_errors_are_retried() -> None:
    from prefect.states import Failed

    from prefect_quantum.errors import CircuitTooWideError, DeviceOfflineError
    from prefect_quantum.tasks import retry_transient_only

    transient = Failed(data=DeviceOfflineError("gone"))
    permanent = Failed(data=CircuitTooWideError("circuits", "too wide"))
    assert retry_transient_only(None, None, transient)
    assert not retry_transient_only(None, None, permanent)
