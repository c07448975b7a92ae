"""Tenants on SQLite and PostgreSQL: hashed secrets, authentication, isolation, cancel and
resume. Tests are named after the [T*] rules of docs/scheduling.md."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from store_helpers import FakeClock, MakeStore, qpu

from prefect_quantum.errors import (
    AccessDeniedError,
    AuthenticationError,
    InvalidInputError,
    LeaseLostError,
)
from prefect_quantum.scheduling import Request
from prefect_quantum.store import SchedulerStore, tenants
from prefect_quantum.store.tenants import (
    OPEN,
    Credentials,
    TenantView,
    add_tenant,
    connect,
    list_tenants,
    rotate_secret,
)

OP_SECRET = "operator-secret-0123456789"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """New hashes at n = 2**10 (a 16th of the cost); each hash carries its parameters."""
    monkeypatch.setattr(tenants, "SCRYPT_N", 2**10)


def _request(job_id: str, tenant: str, *, cls: int = 1, shots: int = 100) -> Request:
    return Request(job_id, tenant, cls, 0.0, 10.0, 2, shots_total=shots)


def _tenanted(store: SchedulerStore) -> dict[str, TenantView]:
    """An operator ``ops`` and tenants ``alice`` and ``bob``, each with a view."""
    add_tenant(store, "ops", by=OPEN, role="operator", secret=OP_SECRET)
    ops = connect(store, Credentials("ops", OP_SECRET))
    views = {"ops": ops}
    for name in ("alice", "bob"):
        secret = add_tenant(store, name, by=ops.principal)
        views[name] = connect(store, Credentials(name, secret))
    return views


def test_T1_secrets_are_stored_only_as_salted_hashes(make_store: MakeStore) -> None:
    store = make_store()
    add_tenant(store, "ops", by=OPEN, role="operator", secret=OP_SECRET)
    ops = connect(store, Credentials("ops", OP_SECRET)).principal
    generated = add_tenant(store, "alice", by=ops)
    add_tenant(store, "bob", by=ops, secret=OP_SECRET)  # same secret, other salt
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM pq_tenants")).mappings().all()
            audit = conn.execute(sa.text("SELECT * FROM pq_audit_log")).mappings().all()
    finally:
        engine.dispose()
    raw = repr(rows) + repr(audit)
    assert OP_SECRET not in raw and generated not in raw
    hashes = {row["tenant"]: row["secret_hash"] for row in rows}
    assert all(re.fullmatch(r"scrypt\$1024\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}", h)
               for h in hashes.values())
    assert hashes["ops"] != hashes["bob"]
    assert len(generated) >= 40
    listed = list_tenants(store, ops)
    assert [(t["tenant"], t["role"]) for t in listed] == [
        ("alice", "tenant"), ("bob", "tenant"), ("ops", "operator")]
    assert all("secret_hash" not in t for t in listed)


def test_T2_wrong_or_missing_credentials_are_refused(make_store: MakeStore) -> None:
    store = make_store()
    views = _tenanted(store)
    for bad in (Credentials("alice", "not-the-secret-at-all"), Credentials("nobody", "x" * 20)):
        with pytest.raises(AuthenticationError, match="unknown tenant or wrong secret"):
            connect(store, bad)
    with pytest.raises(AuthenticationError, match="registered tenants"):
        connect(store, None)
    assert views["alice"].principal.role == "tenant"


def test_T2_a_store_without_tenants_is_open(make_store: MakeStore) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    view = connect(store, None)
    assert view.principal is OPEN
    view.submit(_request("a1", "alice"))
    view.submit(_request("b1", "bob"))
    assert {r["tenant"] for r in view.queue()} == {"alice", "bob"}
    assert view.poll("b1").job_id == "b1"
    with pytest.raises(AuthenticationError):  # credentials given are always checked
        connect(store, Credentials("alice", "x" * 20))
    with pytest.raises(InvalidInputError, match=r"first tenant .* must be an operator"):
        add_tenant(store, "alice", by=OPEN)


def test_T3_other_tenants_jobs_are_refused_without_leaking(make_store: MakeStore) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    views = _tenanted(store)
    alice, bob = views["alice"], views["bob"]
    status = alice.submit(_request("a-run", "alice"), payload={"circuit": "secret-circuit"})
    alice.save_checkpoint("a-run", status.lease_id or "", {"shots_done": 40, "counts": {}})
    alice.submit(_request("a-wait", "alice"))
    calls = {
        "poll": lambda: bob.poll("a-run"),
        "payload": lambda: bob.payload("a-run"),
        "checkpoint": lambda: bob.load_checkpoint("a-run"),
        "cancel": lambda: bob.cancel("a-wait"),
        "resume": lambda: bob.resume("a-wait"),
        "audit": lambda: bob.audit("a-run"),
        "heartbeat": lambda: bob.heartbeat("a-run", status.lease_id or "", shots_done=1,
                                           work_done_s=0.1),
        "release": lambda: bob.release("a-run", status.lease_id or "", qpu_seconds=1.0,
                                       outcome="completed", shots_done=100),
        "ledger": lambda: bob.ledger("alice"),
        "submit as": lambda: bob.submit(_request("b-x", "alice")),
        "same id": lambda: bob.submit(_request("a-wait", "bob")),
        "unknown": lambda: bob.poll("no-such-job"),
    }
    for name, call in calls.items():
        with pytest.raises(AccessDeniedError) as caught:
            call()
        message = str(caught.value)
        assert "'bob'" in message, name
        assert "secret-circuit" not in message and "q1" not in message, name
    assert [r["job_id"] for r in store.queue()] == ["a-run", "a-wait"]  # nothing enqueued
    assert store.poll("a-wait").state == "waiting"
    assert bob.queue() == [] and bob.leases() == [] and bob.ledger() == []
    assert all(r["tenant"] == "bob" for r in bob.audit())
    assert alice.payload("a-run") == {"circuit": "secret-circuit"}
    assert alice.load_checkpoint("a-run") == {"shots_done": 40, "counts": {}}
    alice.release("a-run", status.lease_id or "", qpu_seconds=2.0, outcome="completed",
                  shots_done=100)
    assert [r["job_id"] for r in alice.ledger()] == ["a-run"]
    assert {r["tenant"] for r in alice.usage()} == {"alice"}
    assert bob.usage() == []


def test_T4_operator_sees_and_acts_on_every_tenant(make_store: MakeStore) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    views = _tenanted(store)
    ops = views["ops"]
    views["alice"].submit(_request("a1", "alice"))
    views["bob"].submit(_request("b1", "bob"))
    ops.submit(_request("b2", "bob"))  # an operator may submit for anyone
    assert [r["job_id"] for r in ops.queue()] == ["a1", "b1", "b2"]
    assert ops.poll("a1").state == "running"
    assert ops.cancel("b1").state == "cancelled"
    assert {r["tenant"] for r in ops.audit()} >= {"alice", "bob", "ops"}
    with pytest.raises(AccessDeniedError, match="operators only"):
        add_tenant(store, "carol", by=views["alice"].principal)
    with pytest.raises(AccessDeniedError, match="operators only"):
        list_tenants(store, views["bob"].principal)


def test_T4_rotation_retires_the_old_secret_and_admin_actions_are_audited(
    make_store: MakeStore,
) -> None:
    store = make_store()
    views = _tenanted(store)
    ops = views["ops"].principal
    with pytest.raises(InvalidInputError, match="exists"):
        add_tenant(store, "alice", by=ops)
    new = rotate_secret(store, "alice", by=ops)
    assert connect(store, Credentials("alice", new)).principal.tenant == "alice"
    kinds = [(r["kind"], r["tenant"], r["detail"]) for r in store.audit()]
    assert kinds == [
        ("tenant_added", "ops", {"role": "operator", "by": "open"}),
        ("tenant_added", "alice", {"role": "tenant", "by": "ops"}),
        ("tenant_added", "bob", {"role": "tenant", "by": "ops"}),
        ("tenant_rotated", "alice", {"by": "ops"}),
    ]
    assert store.verify_audit() is None
    with pytest.raises(InvalidInputError, match="tenant"):
        rotate_secret(store, "nobody", by=ops)
    with pytest.raises(InvalidInputError, match="tenant"):
        add_tenant(store, "bad name", by=ops)
    with pytest.raises(InvalidInputError, match="secret"):
        add_tenant(store, "carol", by=ops, secret="short")


def test_T5_cancel_waiting_job_at_once_running_job_when_it_yields(
    make_store: MakeStore,
) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    views = _tenanted(store)
    alice = views["alice"]
    running = alice.submit(_request("run", "alice"))
    assert alice.submit(_request("wait", "alice")).state == "waiting"
    assert alice.cancel("wait").state == "cancelled"
    assert alice.cancel("wait").state == "cancelled"  # idempotent
    lease_id = running.lease_id or ""
    status = alice.cancel("run")
    assert status.state == "running" and status.preempt_requested
    assert alice.heartbeat("run", lease_id, shots_done=50, work_done_s=1.0).preempt_requested
    alice.save_checkpoint("run", lease_id, {"shots_done": 50})
    alice.release("run", lease_id, qpu_seconds=1.0, outcome="preempted", shots_done=50)
    after = alice.poll("run")
    assert (after.state, after.shots_done) == ("cancelled", 50)
    assert [r["outcome"] for r in store.ledger()] == ["preempted"]  # charged once
    kinds = [r["kind"] for r in alice.audit("run")]
    assert kinds[-3:] == ["released", "preempted", "cancelled"]
    assert "cancel_requested" in kinds
    done = alice.submit(_request("done", "alice"))  # the device is free again
    alice.release("done", done.lease_id or "", qpu_seconds=1.0, outcome="completed",
                  shots_done=100)
    with pytest.raises(InvalidInputError, match="is completed"):
        alice.cancel("done")


def test_T5_a_job_that_completes_before_yielding_stays_completed(
    make_store: MakeStore,
) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    status = store.submit(_request("j", "t"))
    store.cancel("j", by="ops")
    store.release("j", status.lease_id or "", qpu_seconds=1.0, outcome="completed",
                  shots_done=100)
    assert store.poll("j").state == "completed"
    engine = sa.create_engine(store.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM pq_cancellations")).scalar() == 0
    finally:
        engine.dispose()


def test_T5_a_lease_expiring_while_cancel_waits_ends_cancelled(
    make_store: MakeStore, clock: FakeClock,
) -> None:
    store = make_store(lease_ttl_s=10.0)
    store.register_devices([qpu("q1")])
    status = store.submit(_request("j", "t"))
    store.cancel("j", by="ops")
    clock.advance(11.0)  # the worker died: the pass expires, re-queues, re-grants...
    store.run_pass()
    assert store.poll("j").state == "cancelled"  # ...and the cancellation still holds
    assert store.leases() == []
    with pytest.raises(LeaseLostError):
        store.heartbeat("j", status.lease_id or "", shots_done=0, work_done_s=0.0)
    granted = [r["detail"]["lease_id"] for r in store.audit("j") if r["kind"] == "granted"]
    assert sorted(r["lease_id"] for r in store.ledger()) == sorted(granted)  # billed once each


def test_T6_resume_requeues_a_cancelled_job_from_its_checkpoint(make_store: MakeStore) -> None:
    store = make_store()
    store.register_devices([qpu("q1")])
    views = _tenanted(store)
    alice = views["alice"]
    lease_id = alice.submit(_request("j", "alice")).lease_id or ""
    alice.cancel("j")
    alice.save_checkpoint("j", lease_id, {"shots_done": 30})
    alice.release("j", lease_id, qpu_seconds=1.0, outcome="preempted", shots_done=30)
    with pytest.raises(AccessDeniedError):
        views["bob"].resume("j")
    resumed = alice.resume("j")
    assert (resumed.state, resumed.shots_done) == ("running", 30)
    assert alice.load_checkpoint("j") == {"shots_done": 30}
    kinds = [r["kind"] for r in alice.audit("j")]
    assert kinds[-3:] == ["requeued", "granted", "resumed"]
    with pytest.raises(InvalidInputError, match="only a cancelled job"):
        alice.resume("j")
