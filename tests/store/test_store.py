"""The scheduler store on SQLite and PostgreSQL, named after the rules of
docs/scheduling.md ([S*], [L*], [P7], [F1], [B*])."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from store_helpers import FakeClock, MakeStore, qpu

from prefect_quantum.errors import InvalidInputError, LeaseLostError, StoreBusyError
from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    FallbackMode,
    PolicyConfig,
    Request,
    Snapshot,
    decide,
)
from prefect_quantum.store import SchedulerStore, default_url, verify_chain
from prefect_quantum.store.schema import audit_log

FAST = PolicyConfig(min_run_s=0.0, preemption_grace_s=0.0)


def job(job_id: str, tenant: str = "chem", cls: int = 1, *, shots: int = 100,
        **kwargs: Any) -> Request:
    return Request(job_id, tenant, cls, 0.0, 10.0, 2, shots_total=shots, **kwargs)


def kinds(store: SchedulerStore, job_id: str | None = None) -> list[str]:
    return [r["kind"] for r in store.audit(job_id)]


def assert_no_double_grant(records: list[dict[str, Any]]) -> int:
    """Replay the audit log: a device is granted only while it has no live lease, and
    every release or expiry ends the lease that holds it. Returns the number of grants."""
    holder: dict[str, str] = {}
    job_lease: dict[str, str] = {}
    grants = 0
    for record in records:
        lease_id = record["detail"].get("lease_id")
        if record["kind"] == "granted":
            grants += 1
            assert record["device"] not in holder, f"double grant at seq {record['seq']}"
            assert record["job_id"] not in job_lease, f"two leases for a job at {record['seq']}"
            holder[record["device"]] = lease_id
            job_lease[record["job_id"]] = lease_id
        elif record["kind"] in ("released", "expired"):
            assert holder.pop(record["device"]) == lease_id, f"bad release at {record['seq']}"
            assert job_lease.pop(record["job_id"]) == lease_id
    return grants


def test_S2_submit_grant_heartbeat_release_round_trip(make_store: MakeStore,
                                                      clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=30.0)
    store.register_devices([qpu("qa")])
    status = store.submit(job("j1", shots=100), payload={"circuits": ["ghz:2"]})
    assert status.state == "running" and status.device == "qa" and status.lease_id
    assert status.expires_at == clock.now + 30.0
    assert store.payload("j1") == {"circuits": ["ghz:2"]}

    clock.advance(20.0)
    beat = store.heartbeat("j1", status.lease_id, shots_done=50, work_done_s=5.0)
    assert beat == type(beat)(preempt_requested=False, expires_at=clock.now + 30.0)
    store.save_checkpoint("j1", status.lease_id, {"shots_done": 50, "counts": {"00": 50}})
    assert store.load_checkpoint("j1") == {"shots_done": 50, "counts": {"00": 50}}

    clock.advance(20.0)  # past the original expiry: the heartbeat kept the lease [L1]
    assert store.poll("j1").lease_id == status.lease_id
    store.release("j1", status.lease_id, qpu_seconds=40.0, outcome="completed", shots_done=100)
    done = store.poll("j1")
    assert (done.state, done.shots_done, done.lease_id) == ("completed", 100, None)
    assert store.leases() == [] and store.queue() == []
    assert kinds(store, "j1") == ["submitted", "granted", "released", "completed"]


def test_submit_is_idempotent_by_job_id(make_store: MakeStore) -> None:
    store = make_store(FAST)
    store.register_devices([qpu("qa")])
    first = store.submit(job("j1"))
    again = store.submit(job("j1", tenant="someone-else", shots=999))
    # [L6] the same job; its lease was never used, so it is fenced: a new id for the caller
    assert again.held_before is None and again.lease_id not in (None, first.lease_id)
    assert replace(again, lease_id=first.lease_id) == first
    assert kinds(store)[-1] == "lease_fenced"
    with pytest.raises(LeaseLostError):  # the old id is locked out
        store.heartbeat("j1", str(first.lease_id), shots_done=0, work_done_s=0.0)
    # A used lease is not fenced: the caller learns it is held and must wait ([L6]).
    store.heartbeat("j1", str(again.lease_id), shots_done=10, work_done_s=0.1)
    third = store.submit(job("j1"))
    assert third.held_before == third.lease_id == again.lease_id
    assert [q["job_id"] for q in store.queue()] == ["j1"]
    assert kinds(store).count("submitted") == 1
    store.release("j1", str(again.lease_id), qpu_seconds=1.0, outcome="completed",
                  shots_done=100)
    assert store.submit(job("j1")).state == "completed"  # never a second job


def test_submit_validates(make_store: MakeStore) -> None:
    store = make_store(FAST)
    with pytest.raises(InvalidInputError, match="priority_class"):
        store.submit(job("j1", cls=7))
    with pytest.raises(InvalidInputError, match="payload"):
        store.submit(job("j1"), payload={"x": object()})
    with pytest.raises(InvalidInputError, match="job_id"):
        store.poll("nope")


def test_S3_one_job_per_device_under_concurrent_passes(make_store: MakeStore) -> None:
    stores = [make_store(FAST, clock=__import__("time").time) for _ in range(6)]
    stores[0].register_devices([qpu("qa"), qpu("qb")])
    errors: list[BaseException] = []

    def hammer(index: int, store: SchedulerStore) -> None:
        try:
            for k in range(8):
                store.submit(job(f"j{index}-{k}", tenant=f"t{index % 3}"))
                store.run_pass()
                for lease in store.leases():
                    if lease["job_id"].startswith(f"j{index}-"):
                        store.release(lease["job_id"], lease["lease_id"], qpu_seconds=0.1,
                                      outcome="completed", shots_done=100)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(i, s)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    held = stores[0].leases()
    assert len({lease["device"] for lease in held}) == len(held) <= 2
    assert assert_no_double_grant(stores[0].audit()) >= 2
    assert stores[0].verify_audit() is None


def test_L3_expired_lease_requeues_keeping_age_and_checkpoint(make_store: MakeStore,
                                                             clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=10.0)
    store.register_devices([qpu("qa")])
    submitted_at = clock.now
    first = store.submit(job("j1", shots=100))
    store.save_checkpoint("j1", first.lease_id, {"shots_done": 40, "counts": {"0": 40}})
    store.heartbeat("j1", first.lease_id, shots_done=60, work_done_s=6.0)  # 20 not saved

    clock.advance(10.0)  # the worker died: no heartbeat [L1]
    resumed = store.poll("j1")  # a pass is due: expire, re-queue, re-grant [L3], [L5]
    assert resumed.state == "running" and resumed.lease_id != first.lease_id
    assert resumed.shots_done == 40
    assert store.load_checkpoint("j1") == {"shots_done": 40, "counts": {"0": 40}}
    assert store.queue()[0]["submitted_at"] == submitted_at  # original age kept
    assert kinds(store, "j1") == ["submitted", "granted", "expired", "granted", "resumed"]
    expired = store.audit("j1")[2]
    assert expired["reason"].startswith("[L1]") and expired["detail"]["shots_done"] == 40

    with pytest.raises(LeaseLostError):
        store.heartbeat("j1", first.lease_id, shots_done=100, work_done_s=1.0)
    with pytest.raises(LeaseLostError):
        store.save_checkpoint("j1", first.lease_id, {"shots_done": 100})
    with pytest.raises(LeaseLostError):
        store.release("j1", first.lease_id, qpu_seconds=1.0, outcome="completed",
                      shots_done=100)
    assert store.poll("j1").state == "running"  # the late release changed nothing


def test_P7_preemption_request_release_requeue_resume(make_store: MakeStore,
                                                      clock: FakeClock) -> None:
    store = make_store(FAST)
    store.register_devices([qpu("qa")])
    low = store.submit(job("low", tenant="chem", cls=0, shots=300))
    store.save_checkpoint("low", low.lease_id, {"shots_done": 100, "counts": {"0": 100}})
    clock.advance(5.0)
    urgent = store.submit(job("urgent", tenant="ops", cls=3, shots=50))
    assert urgent.state == "waiting"  # not granted in the pass that asks [P7]
    beat = store.heartbeat("low", low.lease_id, shots_done=150, work_done_s=5.0)
    assert beat.preempt_requested and store.poll("low").preempt_requested
    request = store.audit("low")[-1]
    assert request["kind"] == "preempt_requested" and request["detail"]["by_job_id"] == "urgent"
    assert request["reason"].startswith("[P1]")

    with pytest.raises(InvalidInputError, match="checkpoint"):  # 150 were never saved
        store.release("low", low.lease_id, qpu_seconds=5.0, outcome="preempted",
                      shots_done=150)
    store.release("low", low.lease_id, qpu_seconds=5.0, outcome="preempted", shots_done=100)
    assert store.poll("urgent").state == "running"
    waiting = {q["job_id"]: q for q in store.queue()}["low"]
    assert (waiting["state"], waiting["shots_done"], waiting["preemption_count"]) == (
        "waiting", 100, 1)

    store.release("urgent", store.poll("urgent").lease_id or "", qpu_seconds=1.0,
                  outcome="completed", shots_done=50)
    back = store.poll("low")
    assert back.state == "running" and back.shots_done == 100
    counts = Counter((store.load_checkpoint("low") or {})["counts"])
    counts["1"] += 200  # the remaining shots on the new lease
    store.save_checkpoint("low", back.lease_id or "", {"shots_done": 300, "counts": counts})
    store.release("low", back.lease_id or "", qpu_seconds=2.0, outcome="completed",
                  shots_done=300)
    assert sum((store.load_checkpoint("low") or {})["counts"].values()) == 300
    assert kinds(store, "low") == ["submitted", "granted", "preempt_requested", "released",
                                   "preempted", "granted", "resumed", "released", "completed"]


def test_F1_usage_charged_once_per_lease_and_decays(make_store: MakeStore,
                                                    clock: FakeClock) -> None:
    store = make_store(PolicyConfig(half_life_s=100.0))
    store.register_devices([qpu("qa")])
    status = store.submit(job("j1"))
    lease_id = status.lease_id or ""
    store.release("j1", lease_id, qpu_seconds=8.0, outcome="completed", shots_done=100)
    store.release("j1", lease_id, qpu_seconds=8.0, outcome="completed", shots_done=100)
    assert [(r["lease_id"], r["qpu_seconds"]) for r in store.ledger()] == [(lease_id, 8.0)]
    assert store.usage()[0]["settled_qpu_s"] == pytest.approx(8.0)
    clock.advance(100.0)  # one half-life
    assert store.usage()[0]["settled_qpu_s"] == pytest.approx(4.0)
    assert kinds(store, "j1").count("released") == 1
    with pytest.raises(InvalidInputError):
        store.release("other", lease_id, qpu_seconds=1.0, outcome="completed", shots_done=1)


def test_F2_usage_reports_in_flight_time_and_standing(make_store: MakeStore,
                                                      clock: FakeClock) -> None:
    store = make_store(PolicyConfig(shares={"chem": 3.0}))
    store.register_devices([qpu("qa")])
    store.submit(job("j1", tenant="chem"))
    store.submit(job("j2", tenant="bio"))
    clock.advance(10.0)
    usage = {u["tenant"]: u for u in store.usage()}
    assert usage["chem"]["in_flight_qpu_s"] == pytest.approx(10.0)
    assert usage["chem"]["target_fraction"] == pytest.approx(0.75)
    assert usage["chem"]["standing"] == "over share"
    assert usage["bio"]["standing"] == "below share"


def test_B1_fallback_after_max_wait_with_fake_clock(make_store: MakeStore,
                                                   clock: FakeClock) -> None:
    store = make_store(PolicyConfig(preemption_grace_s=0.0), lease_ttl_s=1e6)
    store.register_devices([qpu("qa")])
    store.submit(job("busy", cls=3))
    status = store.submit(job("j1", cls=1, max_wait_s=30.0))
    assert status.state == "waiting"
    clock.advance(15.0)  # "busy" should end at +10 s: j1 may still start in time
    assert store.poll("j1").state == "waiting"
    clock.advance(15.0)
    fell = store.poll("j1")  # latest start reached: a pass is due
    assert (fell.state, fell.fallback_kind) == ("fallback", "noisy")
    assert fell.reason is not None and "[B1]" in fell.reason
    record = store.audit("j1")[-1]
    assert record["kind"] == "fell_back" and "[B1]" in record["reason"]
    store.finish_fallback("j1", outcome="completed", shots_done=100)
    assert store.poll("j1").state == "completed"
    assert store.audit("j1")[-1]["detail"]["simulated"] is True


def test_B3_calibration_ages_in_the_store(make_store: MakeStore, clock: FakeClock) -> None:
    store = make_store(PolicyConfig(calibration_max_age_s=100.0))
    store.register_devices([qpu("qa", calibration_age_s=90.0)])
    clock.advance(20.0)  # now 110 s old [S5]
    fell = store.submit(job("j1"))
    assert fell.state == "fallback" and fell.reason is not None and "[B3]" in fell.reason


def test_B2_device_offline_then_C2_rejection(make_store: MakeStore) -> None:
    store = make_store(FAST)
    fedramp = frozenset({"fedramp"})
    store.register_devices([
        qpu("qa"), qpu("qb", compliance_domains=fedramp),
        DeviceState("sim-fed", True, 32, 1e5, compliance_domains=fedramp, is_simulator=True),
    ])
    store.set_device_online("qb", False)
    offline = store.submit(job("j1", compliance_domain="fedramp"))
    assert offline.state == "fallback" and "[B2]" in (offline.reason or "")
    assert offline.simulator == "sim-fed"  # an authorized simulator only [C1]
    rejected = store.submit(job("j2", compliance_domain="itar", fallback=None))
    assert rejected.state == "rejected" and "[C2]" in (rejected.reason or "")
    assert store.audit("j2")[-1]["kind"] == "rejected"
    with pytest.raises(InvalidInputError):
        store.set_device_online("nope", True)


def test_R2_failed_attempt_requeues_then_fails_for_good(make_store: MakeStore) -> None:
    store = make_store(FAST)
    store.register_devices([qpu("qa")])
    first = store.submit(job("j1"))
    store.release("j1", first.lease_id or "", qpu_seconds=1.0, outcome="failed", shots_done=0)
    again = store.poll("j1")
    assert again.state == "running" and again.lease_id != first.lease_id
    assert store.queue()[0]["retries_used"] == 1
    store.release("j1", again.lease_id or "", qpu_seconds=1.0, outcome="failed",
                  shots_done=0, retry=False)
    assert store.poll("j1").state == "failed"


def test_L2_L4_session_idle_timeout_preemption_and_charge(make_store: MakeStore,
                                                          clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=30.0)
    store.register_devices([qpu("qa")])
    session = store.open_session(job("vqe", cls=1), max_duration_s=100.0, idle_timeout_s=5.0)
    lease_id = session.lease_id or ""
    assert store.leases()[0]["is_session"]
    beat = store.touch_session("vqe", lease_id, idle=True)  # optimizer step on the CPU
    assert beat.expires_at == clock.now + 5.0  # the idle timeout comes first [L2]
    clock.advance(4.0)
    store.touch_session("vqe", lease_id, idle=False)  # next iteration: not idle any more
    clock.advance(20.0)
    assert store.poll("vqe").lease_id == lease_id

    store.submit(job("urgent", tenant="ops", cls=3))
    beat = store.touch_session("vqe", lease_id, idle=True)
    assert beat.preempt_requested  # honoured between iterations [L4]
    store.close_session("vqe", lease_id, outcome="preempted")
    assert store.ledger("chem")[0]["qpu_seconds"] == pytest.approx(24.0)  # holding time
    assert store.poll("urgent").state == "running"

    clock.advance(1.0)
    store.release("urgent", store.poll("urgent").lease_id or "", qpu_seconds=1.0,
                  outcome="completed", shots_done=100)
    again = store.poll("vqe")
    assert again.state == "running"
    store.touch_session("vqe", again.lease_id or "", idle=True)
    clock.advance(5.0)
    expired = store.poll("vqe")
    assert expired.lease_id != again.lease_id
    assert any(r["kind"] == "expired" and "idle" in r["reason"] for r in store.audit("vqe"))


def test_L2_session_maximum_duration(make_store: MakeStore, clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=30.0)
    store.register_devices([qpu("qa")])
    lease_id = store.open_session(job("s"), max_duration_s=50.0,
                                  idle_timeout_s=10.0).lease_id or ""
    for _ in range(4):
        clock.advance(15.0)
        if clock.now < 1_000_050.0:
            store.touch_session("s", lease_id, idle=False)
    with pytest.raises(LeaseLostError):
        store.touch_session("s", lease_id, idle=False)
    assert "maximum duration" in store.audit("s")[2]["reason"]


def test_audit_records_every_decision_and_the_chain_verifies(make_store: MakeStore,
                                                             store_url: str) -> None:
    store = make_store(FAST)
    store.register_devices([qpu("qa"), qpu("tiny", qubits=1)])
    store.submit(job("low", cls=0))
    store.submit(job("next", cls=1))  # waits: qa is busy
    store.submit(Request("huge", "chem", 1, 0.0, 1.0, 50))  # no QPU is that wide [B7]
    store.submit(job("top", cls=3))
    decided = {(r["kind"], r["job_id"]) for r in store.audit()}
    assert {("granted", "low"), ("fell_back", "huge"), ("preempt_requested", "low"),
            ("submitted", "top")} <= decided
    records = store.audit()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert store.verify_audit() is None

    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2)
                     .values(reason="tampered"))
    engine.dispose()
    assert store.verify_audit() == 2
    assert verify_chain(store.audit()[2:]) == 3  # a truncated log is detected too


def test_decisions_returned_by_run_pass_match_the_audit(make_store: MakeStore,
                                                       clock: FakeClock) -> None:
    store = make_store(FAST, lease_ttl_s=5.0)
    store.register_devices([qpu("qa"), qpu("qb")])
    store.submit(job("a"))
    store.submit(job("b"))
    clock.advance(5.0)
    before = len(store.audit())
    decisions = store.run_pass()
    new = [(r["kind"], r["job_id"]) for r in store.audit()[before:]]
    assert sorted(e.job_id for e in decisions.expirations) == ["a", "b"]
    assert sorted(g.job_id for g in decisions.grants) == ["a", "b"]
    assert sorted(new) == sorted([("expired", "a"), ("expired", "b"),
                                  ("granted", "a"), ("granted", "b")])


def test_store_busy_when_sqlite_is_locked_past_the_busy_timeout(tmp_path: Any) -> None:
    path = tmp_path / "busy.db"
    store = SchedulerStore(f"sqlite:///{path}", FAST, busy_timeout_s=0.2, clock=FakeClock())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusyError):
            store.submit(job("j1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.submit(job("j1")).state == "fallback"  # works again; no QPU known [B7]
    store.close()


def test_store_busy_when_postgres_is_unreachable() -> None:
    with pytest.raises(StoreBusyError):
        SchedulerStore("postgresql+psycopg://127.0.0.1:1/none", FAST, busy_timeout_s=1.0)


def test_default_url_lives_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Any) -> None:
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / app))
    url = default_url()
    assert url == f"sqlite:///{tmp_path / 'prefect-quantum' / 'scheduler.db'}"
    store = SchedulerStore(None, FAST)
    assert store.url == url and (tmp_path / "prefect-quantum" / "scheduler.db").exists()
    with sa.create_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_devices_round_trip(make_store: MakeStore) -> None:
    store = make_store(FAST)
    device = DeviceState("qa", True, 7, 5e4, est_fidelity=0.9,
                         compliance_domains=frozenset({"itar", "fedramp"}))
    store.register_devices([device])
    store.register_devices([device])  # upsert
    assert store.devices() == [device]


def test_S1_concurrent_first_use_creates_the_tables_once(store_url: str) -> None:
    made: list[SchedulerStore] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            made.append(SchedulerStore(store_url, FAST, clock=FakeClock()))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    made[0].register_devices([qpu("qa")])
    assert made[1].submit(job("j1")).state == "running"
    for store in made:
        store.close()


def test_store_busy_when_the_postgres_scheduler_row_stays_locked(pg_schema_url: str) -> None:
    store = SchedulerStore(pg_schema_url, FAST, busy_timeout_s=0.3, clock=FakeClock())
    holder = sa.create_engine(pg_schema_url)
    with holder.connect() as conn, conn.begin():
        conn.exec_driver_sql("SELECT id FROM pq_scheduler_lock WHERE id = 1 FOR UPDATE")
        with pytest.raises(StoreBusyError):
            store.submit(job("j1"))
    holder.dispose()
    assert store.submit(job("j1")).job_id == "j1"
    store.close()


def test_S2_poll_runs_a_pass_only_when_one_is_due(make_store: MakeStore,
                                                  clock: FakeClock) -> None:
    passes: list[float] = []

    def counting(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
        passes.append(snapshot.now)
        return decide(snapshot, config)

    store = make_store(FAST, lease_ttl_s=100.0, pass_interval_s=30.0, decide_fn=counting)
    store.register_devices([qpu("qa")])
    store.submit(job("busy", cls=3))
    store.submit(job("patient", max_wait_s=10.0, fallback=FallbackMode.NONE))
    before = len(passes)
    clock.advance(5.0)
    store.poll("patient")
    assert len(passes) == before  # nothing due
    clock.advance(6.0)
    assert store.poll("patient").state == "waiting"  # overdue, but mode "none" [B5]
    assert len(passes) == before + 1
    store.poll("patient")
    assert len(passes) == before + 1  # seen once; not a pass on every poll
    clock.advance(30.0)
    store.poll("patient")
    assert len(passes) == before + 2  # pass_interval_s elapsed with requests waiting
    clock.advance(60.0)
    store.poll("busy")  # the lease deadline passed: a pass expires it [S2]
    assert len(passes) == before + 3
    assert kinds(store, "busy")[-2:] == ["expired", "granted"]


def test_S1_a_pass_is_one_locked_transaction(make_store: MakeStore, store_url: str) -> None:
    store = make_store(FAST)
    store.register_devices([qpu("qa")])
    statements: list[str] = []
    engine = store._engine  # the store's own engine, to see what it sends

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        store.run_pass()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    if store_url.startswith("sqlite"):
        begin, lock = statements[:2]
        assert begin == "BEGIN IMMEDIATE" and "FROM PQ_SCHEDULER_LOCK" in lock
    else:  # psycopg opens the transaction itself; the row lock comes first
        lock = statements[0]
        assert "FROM PQ_SCHEDULER_LOCK" in lock and lock.endswith("FOR UPDATE")
    assert sum(s.startswith("BEGIN") for s in statements) <= 1
