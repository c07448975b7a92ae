"""The decision pass and the row changes it and `release` share ([S1..S4], [L3], [F1]).

Every function here runs inside one serialized write transaction and appends an audit
record for each change it makes. Statements are built once at import; an ``UPDATE``'s
``SET`` columns are the keys of the parameters it is executed with.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.scheduling import (
    Decisions,
    Expiration,
    Grant,
    PolicyConfig,
    Request,
    Snapshot,
    decayed_usage,
)
from prefect_quantum.store.audit import AuditWriter
from prefect_quantum.store.engine import Writes
from prefect_quantum.store.schema import (
    leases,
    requests,
    tenant_usage,
    usage_ledger,
)
from prefect_quantum.store.sessions import SessionLimits, lease_deadline
from prefect_quantum.store.snapshot import (
    SELECT_USAGE,
    SELECT_WAITING,
    RowLike,
    State,
    build_snapshot,
    finite_or_none,
    latest_start,
    read_state,
    request_from_row,
)

Decide = Callable[[Snapshot, PolicyConfig], Decisions]

INSERT_LEDGER = usage_ledger.insert()
SELECT_TENANT_USAGE = select(tenant_usage).where(tenant_usage.c.tenant == bindparam("tenant"))
INSERT_TENANT_USAGE = tenant_usage.insert()
UPDATE_TENANT_USAGE = update(tenant_usage).where(tenant_usage.c.tenant == bindparam("w_tenant"))
SELECT_REQUEST = select(requests).where(requests.c.job_id == bindparam("job_id"))
UPDATE_REQUEST = update(requests).where(requests.c.job_id == bindparam("w_job_id"))
INSERT_LEASE = leases.insert()
DELETE_LEASE = delete(leases).where(leases.c.lease_id == bindparam("lease_id"))
SELECT_LEASE_OF_JOB = select(leases).where(leases.c.job_id == bindparam("job_id"))
UPDATE_LEASE_OF_JOB = update(leases).where(leases.c.job_id == bindparam("w_job_id"))
CLEAR_OVERDUE = (
    update(requests)
    .where(requests.c.state == "waiting", requests.c.latest_start <= bindparam("now"))
    .values(latest_start=None)
)
_UNREAD: Any = object()  # `charge`: the tenant's usage row was not read yet


@dataclass(frozen=True, slots=True)
class GrantedLease:
    """A lease a pass inserted: what `submit` reports without reading it back."""

    lease_id: str
    device: str
    deadline_at: float
    reason: str


def session_limits(row: RowLike) -> SessionLimits | None:
    """The session limits stored on a request or lease row, None for a plain lease."""
    m = row._mapping
    if not m["is_session"]:
        return None
    return SessionLimits(m["session_max_s"], m["session_idle_timeout_s"])


def charge(
    w: Writes,
    lease: RowLike,
    qpu_seconds: float,
    outcome: str,
    now: float,
    config: PolicyConfig,
    usage: tuple[float, float] | None = _UNREAD,
) -> None:
    """Settle one lease into the ledger and the tenant's decayed total, once ([F1]).
    `usage` is the tenant's ``(decayed_qpu_seconds, as_of)`` (None: no row yet) when
    the caller read it in the same transaction."""
    m = lease._mapping
    w(INSERT_LEDGER, {
        "tenant": m["tenant"], "job_id": m["job_id"], "lease_id": m["lease_id"],
        "device": m["device"], "qpu_seconds": qpu_seconds, "outcome": outcome, "at": now,
    })
    if usage is _UNREAD:
        row = w.conn.execute(SELECT_TENANT_USAGE, {"tenant": m["tenant"]}).first()
        usage = None if row is None else (row.decayed_qpu_seconds, row.as_of)
    if usage is None:
        w(INSERT_TENANT_USAGE, {
            "tenant": m["tenant"], "decayed_qpu_seconds": qpu_seconds, "as_of": now
        })
    else:
        decayed, as_of = usage
        total = decayed_usage(decayed, as_of, now, qpu_seconds, config.half_life_s)
        w(UPDATE_TENANT_USAGE, {
            "w_tenant": m["tenant"], "decayed_qpu_seconds": total, "as_of": max(now, as_of)
        })


def requeue(
    w: Writes, job_id: str, now: float, reason: str, **changes: Any
) -> Request:
    """Put a job back in the queue, keeping `submitted_at` ([L3]); `changes` are
    request columns to update (counters, shots)."""
    row = w.conn.execute(SELECT_REQUEST, {"job_id": job_id}).one()
    request = replace(request_from_row(row), **changes)
    w(UPDATE_REQUEST, {
        "w_job_id": job_id, "state": "waiting", "device": None, "reason": reason,
        "updated_at": now, "latest_start": finite_or_none(latest_start(request)), **changes,
    })
    return request


SELECT_RELEASE = (
    select(
        leases,
        requests.c.tenant.label("job_tenant"),
        requests.c.shots_done.label("job_shots_done"),
        requests.c.shots_total.label("job_shots_total"),
        requests.c.preemption_count.label("job_preemption_count"),
        requests.c.retries_used.label("job_retries_used"),
        tenant_usage.c.tenant.label("usage_tenant"),
        tenant_usage.c.decayed_qpu_seconds.label("usage_decayed_qpu_seconds"),
        tenant_usage.c.as_of.label("usage_as_of"),
    )
    .join(requests, requests.c.job_id == leases.c.job_id)
    .outerjoin(tenant_usage, tenant_usage.c.tenant == leases.c.tenant)
    .where(leases.c.lease_id == bindparam("lease_id"))
)
"""A lease with what `settle` needs of its job and of its tenant's usage (one read)."""


def settle(
    w: Writes,
    audit: AuditWriter,
    now: float,
    config: PolicyConfig,
    lease: RowLike,
    qpu_seconds: float | None,
    outcome: str,
    shots_done: int | None,
    retry: bool,
) -> None:
    """Apply a worker's release of a live lease (see `SchedulerStore.release`); `lease`
    is a row of `SELECT_RELEASE`. A None `qpu_seconds` charges the time the lease held
    the device, a None `shots_done` means all shots when completed, else the
    checkpointed ones."""
    checkpointed = lease.job_shots_done
    shots_total = lease.job_shots_total
    if shots_done is None:
        shots_done = shots_total if outcome == "completed" else checkpointed
    if shots_done > shots_total:
        raise InvalidInputError(
            "shots_done", f"{shots_done} exceeds the job's {shots_total} shots"
        )
    if outcome == "preempted" and shots_done != checkpointed:
        raise InvalidInputError(
            "shots_done",
            f"a preempted job resumes from its checkpoint ({checkpointed} shots); "
            f"save_checkpoint before releasing, got {shots_done}",
        )
    charged = max(0.0, now - lease.started_at) if qpu_seconds is None else qpu_seconds
    usage = (None if lease.usage_tenant is None
             else (lease.usage_decayed_qpu_seconds, lease.usage_as_of))
    charge(w, lease, charged, outcome, now, config, usage)
    w(DELETE_LEASE, {"lease_id": lease.lease_id})
    job_id = lease.job_id
    common = {"job_id": job_id, "tenant": lease.job_tenant, "device": lease.device}
    audit.append(
        now, "released", reason=f"worker reported {outcome}",
        detail={"lease_id": lease.lease_id, "outcome": outcome, "qpu_seconds": charged,
                "shots_done": shots_done}, **common,
    )
    if outcome == "completed":
        w(UPDATE_REQUEST, {
            "w_job_id": job_id, "state": "completed", "shots_done": shots_done,
            "reason": "completed", "updated_at": now,
        })
        audit.append(now, "completed", reason="completed",
                     detail={"shots_done": shots_done}, **common)
    elif outcome == "preempted":
        reason = f"[P7] preempted by {lease.preempted_by}" if lease.preempted_by else \
            "[P7] yielded the device"
        count = lease.job_preemption_count + 1
        requeue(w, job_id, now, reason, preemption_count=count, shots_done=shots_done)
        audit.append(
            now, "preempted", reason=reason,
            detail={"by_job_id": lease.preempted_by, "shots_done": shots_done,
                    "preemption_count": count}, **common,
        )
    elif retry:
        requeue(w, job_id, now, "[R2] re-queued after a failed attempt",
                retries_used=lease.job_retries_used + 1)
    else:
        w(UPDATE_REQUEST, {
            "w_job_id": job_id, "state": "failed", "reason": "failed permanently",
            "updated_at": now,
        })


def expire_lease(
    w: Writes,
    audit: AuditWriter,
    lease: RowLike,
    reason: str,
    now: float,
    config: PolicyConfig,
) -> Expiration:
    """[L3]: drop the lease, charge the time it held the device, re-queue its job with
    its original age, checkpointed shots and counters."""
    m = lease._mapping
    held = max(0.0, min(now, m["deadline_at"]) - m["started_at"])
    charge(w, lease, held, "expired", now, config)
    w(DELETE_LEASE, {"lease_id": m["lease_id"]})
    request = requeue(w, m["job_id"], now, reason)
    audit.append(
        now, "expired", job_id=m["job_id"], tenant=m["tenant"], device=m["device"],
        reason=reason,
        detail={"lease_id": m["lease_id"], "qpu_seconds": held,
                "shots_done": request.shots_done},
    )
    return Expiration(m["job_id"], m["device"], reason)


def expire_due(
    w: Writes, audit: AuditWriter, held: Sequence[RowLike], now: float,
    config: PolicyConfig,
) -> tuple[list[Expiration], list[RowLike]]:
    """Expire the `held` leases whose deadline has passed at `now` ([L1], [L2]); returns
    the expirations and the leases still live."""
    expired, live = [], []
    for lease in sorted(held, key=lambda row: row.device):
        m = lease._mapping
        if m["deadline_at"] > now:
            live.append(lease)
            continue
        _, reason = lease_deadline(
            m["expires_at"], m["started_at"], session_limits(lease), m["idle_since"]
        )
        expired.append(expire_lease(w, audit, lease, reason, now, config))
    return expired, live


def _grant(
    audit: AuditWriter,
    grant: Grant,
    request_row: RowLike,
    now: float,
    lease_ttl_s: float,
    lease_rows: list[dict[str, Any]],
    request_rows: list[dict[str, Any]],
) -> GrantedLease:
    """The lease row of one grant and its request's change ([S4], [L1]), appended to
    `lease_rows` and `request_rows` for one batched write per pass; the unique device
    column is [S3]."""
    m = request_row._mapping
    limits = session_limits(request_row)
    expires_at = now + lease_ttl_s
    deadline_at, _ = lease_deadline(expires_at, now, limits, None)
    lease_id = uuid.uuid4().hex
    lease_rows.append({
        "lease_id": lease_id, "job_id": grant.job_id, "device": grant.device,
        "tenant": m["tenant"], "priority_class": m["priority_class"], "started_at": now,
        "expires_at": expires_at, "deadline_at": deadline_at, "last_heartbeat": None,
        "preemptible": m["preemptible"], "compliance_domain": m["compliance_domain"],
        "preemption_requested": False, "preempted_by": None,
        "preemption_count": m["preemption_count"], "work_done_s": 0.0,
        "checkpointed_s": 0.0, "work_remaining_s": grant.est_duration_s,
        "shots_live": m["shots_done"], "is_session": m["is_session"],
        "session_max_s": m["session_max_s"],
        "session_idle_timeout_s": m["session_idle_timeout_s"], "idle_since": None,
    })
    request_rows.append({
        "w_job_id": grant.job_id, "state": "running", "device": grant.device,
        "reason": grant.reason, "updated_at": now,
    })
    detail = {"lease_id": lease_id, "est_duration_s": grant.est_duration_s,
              "expires_at": expires_at, "shots_done": m["shots_done"],
              "preemption_count": m["preemption_count"], "session": m["is_session"]}
    audit.append(now, "granted", job_id=grant.job_id, tenant=m["tenant"],
                 device=grant.device, reason=grant.reason, detail=detail)
    if m["shots_done"] > 0 or m["preemption_count"] > 0:
        audit.append(now, "resumed", job_id=grant.job_id, tenant=m["tenant"],
                     device=grant.device, reason="resumes from its checkpoint",
                     detail=detail)
    return GrantedLease(lease_id, grant.device, deadline_at, grant.reason)


def decision_pass(
    w: Writes,
    audit: AuditWriter,
    now: float,
    config: PolicyConfig,
    lease_ttl_s: float,
    decide: Decide,
    *,
    combined_read: bool = False,
    granted: dict[str, GrantedLease] | None = None,
    state: State | None = None,
) -> Decisions:
    """Expire, snapshot, `decide`, write every decision and its audit record ([S1], [S4]).

    The returned expirations include those the store applied before calling `decide`.
    With `combined_read` (PostgreSQL) the state is read in one statement; `granted`
    collects the leases inserted, by job id; `state` is the state if the caller read
    it already in this transaction, after its last write.
    """
    if state is None:
        state = read_state(w, combined_read)
    expired, live = expire_due(w, audit, state.leases, now, config)
    waiting, usage = state.waiting, state.usage
    if expired:  # re-queued jobs wait again and their tenants were charged
        waiting = w.conn.execute(SELECT_WAITING).all()
        usage = w.conn.execute(SELECT_USAGE).all()
    snapshot, rows = build_snapshot(now, waiting, live, state.devices, usage)
    decisions = decide(snapshot, config)
    for expiration in decisions.expirations:  # leases the core expires by its own rule
        lease = w.conn.execute(SELECT_LEASE_OF_JOB, {"job_id": expiration.job_id}).first()
        if lease is not None:
            expired.append(expire_lease(w, audit, lease, expiration.reason, now, config))
    lease_rows: list[dict[str, Any]] = []
    request_rows: list[dict[str, Any]] = []
    for grant in decisions.grants:
        inserted = _grant(audit, grant, rows[grant.job_id], now, lease_ttl_s, lease_rows,
                          request_rows)
        if granted is not None:
            granted[grant.job_id] = inserted
    if lease_rows:
        w(INSERT_LEASE, lease_rows)
        w(UPDATE_REQUEST, request_rows)
    if decisions.preemptions:
        w(UPDATE_LEASE_OF_JOB, [
            {"w_job_id": p.victim_job_id, "preemption_requested": True,
             "preempted_by": p.by_job_id}
            for p in decisions.preemptions
        ])
    for preemption in decisions.preemptions:
        victim = next(
            (lease for lease in snapshot.leases if lease.job_id == preemption.victim_job_id),
            None,
        )
        audit.append(
            now, "preempt_requested", job_id=preemption.victim_job_id,
            tenant=None if victim is None else victim.tenant, device=preemption.device,
            reason=preemption.reason,
            detail={"by_job_id": preemption.by_job_id, "usage_since": preemption.usage_since},
        )
    if decisions.fallbacks:
        w(UPDATE_REQUEST, [
            {"w_job_id": f.job_id, "state": "fallback",
             "fallback_kind": f.simulator_kind.value, "simulator": f.simulator,
             "reason": f.reason, "updated_at": now}
            for f in decisions.fallbacks
        ])
    for fallback in decisions.fallbacks:
        audit.append(
            now, "fell_back", job_id=fallback.job_id, tenant=rows[fallback.job_id].tenant,
            device=fallback.simulator, reason=fallback.reason,
            detail={"simulator_kind": fallback.simulator_kind.value},
        )
    if decisions.rejections:
        w(UPDATE_REQUEST, [
            {"w_job_id": r.job_id, "state": "rejected", "reason": r.reason,
             "updated_at": now}
            for r in decisions.rejections
        ])
    for rejection in decisions.rejections:
        audit.append(now, "rejected", job_id=rejection.job_id,
                     tenant=rows[rejection.job_id].tenant, reason=rejection.reason)
    decided = {g.job_id for g in decisions.grants} | {f.job_id for f in decisions.fallbacks} | {
        r.job_id for r in decisions.rejections}
    if any(row.latest_start is not None and row.latest_start <= now and job_id not in decided
           for job_id, row in rows.items()):
        # Overdue but kept waiting (fallback mode "none", [B5]): `decide` has seen it, so
        # its latest start no longer makes a pass due on every poll.
        w(CLEAR_OVERDUE, {"now": now})
    return replace(decisions, expirations=tuple(expired))
