"""Issue #7, item 1: 500 jobs of four tenants under seeded faults, on SQLite and on
PostgreSQL. Every job completes on a QPU or on a declared fallback (or is refused by a
declared rule), with exactly its shots; none runs twice; no lease outlives its holder
beyond the expiry bound; the ledger reconciles with the leases; the audit chain verifies.

The harness and the invariant checks are ``benchmarks/_chaos.py``.
"""

from __future__ import annotations

from pathlib import Path

import _chaos
import pytest

from prefect_quantum.reservation import ReservationRequest

pytestmark = pytest.mark.slow

FAULT_KINDS = ("device_outage_mid_job", "drift", "calibration_stale", "store_outage",
               "worker_sigkill")


def test_500_jobs_survive_every_fault(chaos_url: str, tmp_path: Path) -> None:
    config = _chaos.ChaosConfig(url=chaos_url, jobs=500, seed=7)
    run = _chaos.run_chaos_isolated(config, tmp_path)
    verdict = _chaos.verify(run)
    report = _chaos.summary(run, verdict)

    assert verdict.violations == [], report
    for kind in FAULT_KINDS:
        assert run.faults[kind] >= 1, (kind, report)
    assert run.faults["device_outage"] + run.faults["device_outage_mid_job"] >= 5, report
    assert verdict.jobs_run == 500
    assert verdict.completed_on_qpu + verdict.completed_on_fallback + \
        verdict.refused_by_policy == 500, report
    assert verdict.completed_on_qpu >= 400, report  # the faults did not empty the fleet
    assert verdict.shots_lost == 0 and verdict.jobs_duplicated == 0
    assert verdict.compliance_violations == 0 and verdict.ledger_mismatches == 0
    assert verdict.audit_first_bad is None and verdict.audit_records > 1000
    # The SIGKILLed worker's lease expired within the bound and its job resumed from
    # the checkpoint it had saved, on another worker.
    assert verdict.resumed_from_checkpoint is True, report
    assert verdict.killed_lease_expired_after_s is not None
    assert verdict.leases_expired >= 1


def test_verify_catches_broken_invariants(tmp_path: Path) -> None:
    """The checks can fail: a duplicated run, lost shots, an unpaid release, a lease
    left behind and an altered audit record are each reported."""
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    settings = _chaos.StoreSettings(url)
    block = _chaos.make_block(settings)
    releases: list[_chaos.Release] = []
    specs = [s for s in _chaos.make_specs(12, 3) if s.compliance_domain is None][:3]
    with _chaos.without_prefect_api():
        reserver = _chaos.RecordingReserver(block, releases.append)
        outcomes = [_chaos.run_job(s, block.fleet, reserver, block, "t") for s in specs]
    run = _chaos.ChaosRun(settings, specs, outcomes, releases, faults=_chaos.Counter(),
                          fault_log=[])
    assert _chaos.verify(run).violations == []

    first, second = outcomes[0], outcomes[1]
    doubled = _chaos.JobOutcome(**{**first.__dict__, "worker": "other"})
    short = _chaos.JobOutcome(**{**second.__dict__,
                                 "counts_per_circuit": [n - 1 for n in
                                                        second.counts_per_circuit]})
    fake = _chaos.Release("not-a-lease", first.job_id, "qpu", 1.0, "completed", 1)
    broken = _chaos.ChaosRun(settings, specs, [*outcomes, doubled, short], [*releases, fake],
                             faults=_chaos.Counter(), fault_log=[])
    block.store.submit(block.reserver().core_request(_request(block, specs[2])))
    with block.store._engine.begin() as conn:  # tamper with one audit record
        conn.exec_driver_sql("UPDATE pq_audit_log SET reason = 'edited' WHERE seq = 3")
    verdict = _chaos.verify(broken)
    text = "\n".join(verdict.violations)
    assert verdict.jobs_duplicated >= 1 and "ran 2 times" in text
    assert verdict.shots_lost >= 1
    assert "accepted but not charged" in text
    assert "leases left at the end" in text
    assert verdict.audit_first_bad == 3
    block.store.close()


def _request(block: object, spec: _chaos.JobSpec) -> ReservationRequest:
    return ReservationRequest(
        job_id=f"{spec.job_id}-again", tenant=spec.tenant, priority=spec.priority,
        candidates=("ibm_brussels",), max_wait_s=30.0, fallback="noisy",
        fallback_device="ibm_brussels", shots=spec.shots,
    )
