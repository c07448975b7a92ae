"""The store's cheap paths keep its semantics: the one-statement PostgreSQL state read,
writes queued until the next read or the COMMIT, the status a granting submit builds
without reading it back, the lease read in the lock's round trip ([S1], [S3], [S4])."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from store_helpers import FakeClock, MakeStore, qpu

from prefect_quantum.errors import StoreBusyError
from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    Grant,
    PolicyConfig,
    Request,
    Snapshot,
    decide,
)
from prefect_quantum.store import SchedulerStore
from prefect_quantum.store.engine import write_transaction
from prefect_quantum.store.snapshot import build_snapshot, read_state

FAST = PolicyConfig(min_run_s=0.0, preemption_grace_s=0.0)


def job(job_id: str, tenant: str = "chem", cls: int = 1, **kwargs: object) -> Request:
    return Request(job_id, tenant, cls, 0.0, 10.0, 2, shots_total=100, **kwargs)  # type: ignore[arg-type]


def test_S4_a_granting_submit_reports_what_poll_reads(make_store: MakeStore,
                                                      clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=30.0)
    store.register_devices([qpu("qa"), qpu("qb")])
    plain = store.submit(job("plain", shots_done=40))
    assert plain.state == "running" and plain == store.poll("plain")
    session = store.open_session(job("vqe", tenant="bio"), max_duration_s=10.0,
                                 idle_timeout_s=5.0)
    assert session.expires_at == clock.now + 10.0  # the session limit comes first [L2]
    assert session == store.poll("vqe")
    waiting = store.submit(job("third"))
    assert waiting.state == "waiting" and waiting == store.poll("third")
    assert store.verify_audit() is None


def test_S3_S1_a_grant_breaking_the_device_constraint_rolls_back_the_pass(
    make_store: MakeStore,
) -> None:
    """A (buggy) policy granting a held device: the unique lease device refuses it, and
    nothing of that transaction lands, though its writes were queued ([S1], [S3])."""

    def grab_qa(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
        decisions = decide(snapshot, config)
        extra = tuple(Grant(r.job_id, "qa", "test: double grant", 1.0)
                      for r in snapshot.waiting)
        return replace(decisions, grants=decisions.grants + extra)

    store = make_store(FAST)
    store.register_devices([qpu("qa")])
    first = store.submit(job("j1"))
    bad = make_store(FAST, decide_fn=grab_qa)
    before = store.audit()
    with pytest.raises(sa.exc.IntegrityError):
        bad.submit(job("j2"))
    assert [q["job_id"] for q in store.queue()] == ["j1"]
    assert store.audit() == before and store.verify_audit() is None
    store.release("j1", first.lease_id or "", qpu_seconds=1.0, outcome="completed",
                  shots_done=100)
    assert store.submit(job("j2")).state == "running"  # the connections still work
    assert store.verify_audit() is None


def test_S1_postgres_state_in_one_statement_matches_the_row_reads(
    pg_schema_url: str,
) -> None:
    clock = FakeClock(1_000_000.125)
    store = SchedulerStore(pg_schema_url, FAST, clock=clock, lease_ttl_s=7.5)
    fedramp = frozenset({"fedramp", "itar"})
    store.register_devices([
        qpu("qa", calibration_age_s=12.345), qpu("qb", compliance_domains=fedramp),
        DeviceState("sim", True, 30, 1e5, compliance_domains=fedramp, is_simulator=True),
        DeviceState("slow", False, 5, 3.3e4, est_fidelity=0.875),
    ])
    store.submit(job("a", tenant="chem"))
    clock.advance(0.1)
    store.open_session(job("s", tenant="bio", compliance_domain="fedramp"),
                       max_duration_s=100.0, idle_timeout_s=5.0)
    clock.advance(1 / 3)
    store.submit(Request("w1", "chem", 0, 0.0, 7.0, 2, allowed_devices=frozenset({"qa"}),
                         max_wait_s=1e4, deadline=2e6, shots_total=10, shots_done=3))
    store.submit(Request("w2", "ops", 2, 0.0, 1.0, 1, preemptible=False))
    lease = {row["job_id"]: row for row in store.leases()}["a"]
    store.release("a", lease["lease_id"], qpu_seconds=2.5, outcome="failed", shots_done=0)
    engine = store._engine
    with write_transaction(engine) as (_conn, _lock, writes, _):
        one = read_state(writes, combined=True)
        rows = read_state(writes, combined=False)
    assert len(one.waiting) >= 1 and len(one.leases) >= 1 and one.usage
    def plain(items: Sequence[Any]) -> list[dict[str, Any]]:
        out = [dict(row._mapping) for row in items]
        return sorted(out, key=lambda d: str(sorted(d.items())))

    for combined, separate in zip(one, rows, strict=True):
        assert plain(combined) == plain(separate)
        for a, b in zip(plain(combined), plain(separate), strict=True):
            assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    now = clock.now
    s1, r1 = build_snapshot(now, one.waiting, one.leases, one.devices, one.usage)
    s2, r2 = build_snapshot(now, rows.waiting, rows.leases, rows.devices, rows.usage)
    assert sorted(s1.waiting, key=lambda r: r.job_id) == sorted(s2.waiting,
                                                                  key=lambda r: r.job_id)
    assert sorted(s1.leases, key=lambda r: r.job_id) == sorted(s2.leases,
                                                                 key=lambda r: r.job_id)
    assert sorted(s1.devices, key=lambda d: d.name) == sorted(s2.devices,
                                                               key=lambda d: d.name)
    assert dict(s1.usage) == dict(s2.usage) and set(r1) == set(r2)
    store.close()


def test_store_busy_on_release_and_heartbeat_when_the_postgres_row_stays_locked(
    pg_schema_url: str,
) -> None:
    store = SchedulerStore(pg_schema_url, FAST, busy_timeout_s=0.3, clock=FakeClock())
    store.register_devices([qpu("qa")])
    status = store.submit(job("j1"))
    holder = sa.create_engine(pg_schema_url)
    with holder.connect() as conn, conn.begin():
        conn.exec_driver_sql("SELECT id FROM pq_scheduler_lock WHERE id = 1 FOR UPDATE")
        with pytest.raises(StoreBusyError):  # the lease is read in the lock's round trip
            store.release("j1", status.lease_id or "", qpu_seconds=1.0,
                          outcome="completed", shots_done=100)
        with pytest.raises(StoreBusyError):
            store.heartbeat("j1", status.lease_id or "", shots_done=1, work_done_s=1.0)
    holder.dispose()
    store.release("j1", status.lease_id or "", qpu_seconds=1.0, outcome="completed",
                  shots_done=100)
    assert store.poll("j1").state == "completed" and store.verify_audit() is None
    store.close()


def test_S2_poll_with_no_pass_due_is_one_read_without_the_lock(make_store: MakeStore,
                                                              store_url: str) -> None:
    store = make_store(FAST, pass_interval_s=30.0)
    store.register_devices([qpu("qa")])
    running = store.submit(job("j1"))
    store.submit(job("j2"))  # waits; the last pass was just now
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(store._engine, "before_cursor_execute", record)
    try:
        assert store.poll("j1") == running
        assert store.poll("j2").state == "waiting"
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", record)
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 2 and not any("FOR UPDATE" in s or "IMMEDIATE" in s
                                       for s in statements)
    assert len(statements) == (4 if store_url.startswith("sqlite") else 2)  # + BEGIN DEFERRED


@pytest.mark.parametrize("pipeline", [True, False])
def test_postgres_with_and_without_pipeline_mode(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch, pipeline: bool
) -> None:
    """Drivers or libpq builds without pipeline mode send each statement on its own,
    with the same outcome."""
    from prefect_quantum.store import engine as engine_module

    if not pipeline:
        monkeypatch.setattr(engine_module, "can_pipeline", lambda _engine: False)
    clock = FakeClock()
    store = SchedulerStore(pg_schema_url, FAST, clock=clock, lease_ttl_s=10.0)
    store.register_devices([qpu("qa")])
    low = store.submit(job("low", cls=0))
    assert low.state == "running" and low == store.poll("low")
    store.save_checkpoint("low", low.lease_id or "", {"shots_done": 30})
    clock.advance(1.0)
    assert store.submit(job("top", tenant="ops", cls=3)).state == "waiting"
    assert store.heartbeat("low", low.lease_id or "", shots_done=30,
                           work_done_s=1.0).preempt_requested
    store.release("low", low.lease_id or "", qpu_seconds=1.0, outcome="preempted",
                  shots_done=30)
    top = store.poll("top")
    assert top.state == "running"
    clock.advance(10.0)  # top's worker died: expiry re-queues it [L3]
    assert store.poll("top").lease_id != top.lease_id
    assert [r["kind"] for r in store.audit("top")] == [
        "submitted", "granted", "expired", "granted"]
    assert [r["kind"] for r in store.audit("low")] == [
        "submitted", "granted", "preempt_requested", "released", "preempted"]
    assert store.verify_audit() is None
    store.close()
