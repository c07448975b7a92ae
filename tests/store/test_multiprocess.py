"""Issue #3 "Done means": 8 processes, 400 jobs of 4 tenants with mixed classes, on SQLite
and on PostgreSQL; no double grant, no lost job, exact shot totals, a SIGKILLed worker's
job resumed from its checkpoint, preemptions that resume correctly ([S1..S3], [L3], [P7])."""

from __future__ import annotations

import pytest
from store_workload import make_jobs, replay_leases, run_workload

from prefect_quantum.scheduling import PolicyConfig
from prefect_quantum.store import SchedulerStore

pytestmark = pytest.mark.slow


def test_S3_L3_P7_eight_processes_400_jobs_one_killed(store_url: str) -> None:
    result = run_workload(store_url, workers=8, jobs=400)
    assert result.exit_codes[0] == -9  # SIGKILL
    assert result.exit_codes[1:] == [0] * 8, result.exit_codes

    store = SchedulerStore(store_url, PolicyConfig())
    try:
        jobs = {q["job_id"]: q for q in store.queue(include_finished=True)}
        specs = {spec[0]: spec for dealt in make_jobs(400, 8) for spec in dealt}
        assert len(jobs) == 400 and {q["state"] for q in jobs.values()} == {"completed"}
        for job_id, (_, _, _, shots) in specs.items():  # exact shots, counts included
            assert jobs[job_id]["shots_done"] == shots
            saved = store.load_checkpoint(job_id)
            assert saved is not None and sum(saved["counts"].values()) == shots, job_id
        assert sum(q["shots_done"] for q in jobs.values()) == sum(s[3] for s in specs.values())

        records = store.audit()
        assert replay_leases(records) >= 400
        assert store.verify_audit() is None
        assert store.leases() == []

        killed = store.audit(result.killed_job)
        expired = [i for i, r in enumerate(killed) if r["kind"] == "expired"]
        assert expired, "the killed worker's lease never expired"
        resumed = [r for r in killed[expired[0]:] if r["kind"] == "resumed"]
        assert resumed and resumed[0]["detail"]["shots_done"] >= result.killed_at_shots

        preempted = [r for r in records if r["kind"] == "preempted"]
        assert preempted, "no preemption happened"
        for record in preempted:  # each preempted job resumed and finished exactly
            later = store.audit(record["job_id"])
            assert any(r["kind"] == "resumed" and r["seq"] > record["seq"] for r in later)
        ledger = store.ledger()
        assert len({r["lease_id"] for r in ledger}) == len(ledger)  # charged once per lease
    finally:
        store.close()
