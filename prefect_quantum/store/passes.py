"""The decision pass and the row changes it and `release` share ([S1..S4], [L3], [F1]).

Every function here runs inside one serialized write transaction and appends an audit
record for each change it makes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

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
from prefect_quantum.store.schema import (
    leases,
    requests,
    tenant_usage,
    usage_ledger,
)
from prefect_quantum.store.sessions import SessionLimits, lease_deadline
from prefect_quantum.store.snapshot import (
    finite_or_none,
    latest_start,
    load_snapshot,
    request_from_row,
)

Decide = Callable[[Snapshot, PolicyConfig], Decisions]


def session_limits(row: Row[Any]) -> SessionLimits | None:
    """The session limits stored on a request or lease row, None for a plain lease."""
    m = row._mapping
    if not m["is_session"]:
        return None
    return SessionLimits(m["session_max_s"], m["session_idle_timeout_s"])


def charge(
    conn: Connection,
    lease: Row[Any],
    qpu_seconds: float,
    outcome: str,
    now: float,
    config: PolicyConfig,
) -> None:
    """Settle one lease into the ledger and the tenant's decayed total, once ([F1])."""
    m = lease._mapping
    conn.execute(usage_ledger.insert().values(
        tenant=m["tenant"], job_id=m["job_id"], lease_id=m["lease_id"], device=m["device"],
        qpu_seconds=qpu_seconds, outcome=outcome, at=now,
    ))
    current = conn.execute(
        select(tenant_usage).where(tenant_usage.c.tenant == m["tenant"])
    ).first()
    if current is None:
        conn.execute(tenant_usage.insert().values(
            tenant=m["tenant"], decayed_qpu_seconds=qpu_seconds, as_of=now
        ))
    else:
        total = decayed_usage(
            current.decayed_qpu_seconds, current.as_of, now, qpu_seconds, config.half_life_s
        )
        conn.execute(
            update(tenant_usage)
            .where(tenant_usage.c.tenant == m["tenant"])
            .values(decayed_qpu_seconds=total, as_of=max(now, current.as_of))
        )


def requeue(
    conn: Connection, job_id: str, now: float, reason: str, **changes: Any
) -> Request:
    """Put a job back in the queue, keeping `submitted_at` ([L3]); `changes` are
    request columns to update (counters, shots)."""
    row = conn.execute(select(requests).where(requests.c.job_id == job_id)).one()
    request = replace(request_from_row(row), **changes)
    conn.execute(
        update(requests)
        .where(requests.c.job_id == job_id)
        .values(
            state="waiting", device=None, reason=reason, updated_at=now,
            latest_start=finite_or_none(latest_start(request)), **changes,
        )
    )
    return request


def settle(
    conn: Connection,
    audit: AuditWriter,
    now: float,
    config: PolicyConfig,
    lease: Row[Any],
    qpu_seconds: float | None,
    outcome: str,
    shots_done: int | None,
    retry: bool,
) -> None:
    """Apply a worker's release of a live lease (see `SchedulerStore.release`); a None
    `qpu_seconds` charges the time the lease held the device, a None `shots_done` means
    all shots when completed, else the checkpointed ones."""
    job = conn.execute(select(requests).where(requests.c.job_id == lease.job_id)).one()
    checkpointed = job.shots_done
    if shots_done is None:
        shots_done = job.shots_total if outcome == "completed" else checkpointed
    if shots_done > job.shots_total:
        raise InvalidInputError(
            "shots_done", f"{shots_done} exceeds the job's {job.shots_total} shots"
        )
    if outcome == "preempted" and shots_done != checkpointed:
        raise InvalidInputError(
            "shots_done",
            f"a preempted job resumes from its checkpoint ({checkpointed} shots); "
            f"save_checkpoint before releasing, got {shots_done}",
        )
    charged = max(0.0, now - lease.started_at) if qpu_seconds is None else qpu_seconds
    charge(conn, lease, charged, outcome, now, config)
    conn.execute(delete(leases).where(leases.c.lease_id == lease.lease_id))
    common = {"job_id": job.job_id, "tenant": job.tenant, "device": lease.device}
    audit.append(
        now, "released", reason=f"worker reported {outcome}",
        detail={"lease_id": lease.lease_id, "outcome": outcome, "qpu_seconds": charged,
                "shots_done": shots_done}, **common,
    )
    if outcome == "completed":
        conn.execute(update(requests).where(requests.c.job_id == job.job_id).values(
            state="completed", shots_done=shots_done, reason="completed",
            updated_at=now,
        ))
        audit.append(now, "completed", reason="completed",
                        detail={"shots_done": shots_done}, **common)
    elif outcome == "preempted":
        reason = f"[P7] preempted by {lease.preempted_by}" if lease.preempted_by else \
            "[P7] yielded the device"
        requeue(conn, job.job_id, now, reason,
                preemption_count=job.preemption_count + 1, shots_done=shots_done)
        audit.append(
            now, "preempted", reason=reason,
            detail={"by_job_id": lease.preempted_by, "shots_done": shots_done,
                    "preemption_count": job.preemption_count + 1}, **common,
        )
    elif retry:
        requeue(conn, job.job_id, now, "[R2] re-queued after a failed attempt",
                retries_used=job.retries_used + 1)
    else:
        conn.execute(update(requests).where(requests.c.job_id == job.job_id).values(
            state="failed", reason="failed permanently", updated_at=now,
        ))


def expire_lease(
    conn: Connection,
    audit: AuditWriter,
    lease: Row[Any],
    reason: str,
    now: float,
    config: PolicyConfig,
) -> Expiration:
    """[L3]: drop the lease, charge the time it held the device, re-queue its job with
    its original age, checkpointed shots and counters."""
    m = lease._mapping
    held = max(0.0, min(now, m["deadline_at"]) - m["started_at"])
    charge(conn, lease, held, "expired", now, config)
    conn.execute(delete(leases).where(leases.c.lease_id == m["lease_id"]))
    request = requeue(conn, m["job_id"], now, reason)
    audit.append(
        now, "expired", job_id=m["job_id"], tenant=m["tenant"], device=m["device"],
        reason=reason,
        detail={"lease_id": m["lease_id"], "qpu_seconds": held,
                "shots_done": request.shots_done},
    )
    return Expiration(m["job_id"], m["device"], reason)


def expire_due(
    conn: Connection, audit: AuditWriter, held: Sequence[Row[Any]], now: float,
    config: PolicyConfig,
) -> tuple[list[Expiration], list[Row[Any]]]:
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
        expired.append(expire_lease(conn, audit, lease, reason, now, config))
    return expired, live


def _grant(
    conn: Connection,
    audit: AuditWriter,
    grant: Grant,
    request_row: Row[Any],
    now: float,
    lease_ttl_s: float,
) -> None:
    """Insert the lease of one grant ([S4], [L1]); the unique device column is [S3]."""
    m = request_row._mapping
    limits = session_limits(request_row)
    expires_at = now + lease_ttl_s
    deadline_at, _ = lease_deadline(expires_at, now, limits, None)
    lease_id = uuid.uuid4().hex
    conn.execute(leases.insert().values(
        lease_id=lease_id, job_id=grant.job_id, device=grant.device, tenant=m["tenant"],
        priority_class=m["priority_class"], started_at=now, expires_at=expires_at,
        deadline_at=deadline_at, last_heartbeat=None, preemptible=m["preemptible"],
        compliance_domain=m["compliance_domain"], preemption_requested=False,
        preempted_by=None, preemption_count=m["preemption_count"], work_done_s=0.0,
        checkpointed_s=0.0, work_remaining_s=grant.est_duration_s,
        shots_live=m["shots_done"], is_session=m["is_session"],
        session_max_s=m["session_max_s"], session_idle_timeout_s=m["session_idle_timeout_s"],
        idle_since=None,
    ))
    conn.execute(
        update(requests)
        .where(requests.c.job_id == grant.job_id)
        .values(state="running", device=grant.device, reason=grant.reason, updated_at=now)
    )
    detail = {"lease_id": lease_id, "est_duration_s": grant.est_duration_s,
              "expires_at": expires_at, "shots_done": m["shots_done"],
              "preemption_count": m["preemption_count"], "session": m["is_session"]}
    audit.append(now, "granted", job_id=grant.job_id, tenant=m["tenant"],
                 device=grant.device, reason=grant.reason, detail=detail)
    if m["shots_done"] > 0 or m["preemption_count"] > 0:
        audit.append(now, "resumed", job_id=grant.job_id, tenant=m["tenant"],
                     device=grant.device, reason="resumes from its checkpoint",
                     detail=detail)


def decision_pass(
    conn: Connection,
    audit: AuditWriter,
    now: float,
    config: PolicyConfig,
    lease_ttl_s: float,
    decide: Decide,
) -> Decisions:
    """Expire, snapshot, `decide`, write every decision and its audit record ([S1], [S4]).

    The returned expirations include those the store applied before calling `decide`.
    """
    expired, live = expire_due(conn, audit, conn.execute(select(leases)).all(), now, config)
    snapshot, rows = load_snapshot(conn, now, live)
    decisions = decide(snapshot, config)
    for expiration in decisions.expirations:  # leases the core expires by its own rule
        lease = conn.execute(select(leases).where(leases.c.job_id == expiration.job_id)).first()
        if lease is not None:
            expired.append(expire_lease(conn, audit, lease, expiration.reason, now, config))
    for grant in decisions.grants:
        _grant(conn, audit, grant, rows[grant.job_id], now, lease_ttl_s)
    for preemption in decisions.preemptions:
        conn.execute(
            update(leases)
            .where(leases.c.job_id == preemption.victim_job_id)
            .values(preemption_requested=True, preempted_by=preemption.by_job_id)
        )
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
    for fallback in decisions.fallbacks:
        conn.execute(
            update(requests)
            .where(requests.c.job_id == fallback.job_id)
            .values(state="fallback", fallback_kind=fallback.simulator_kind.value,
                    simulator=fallback.simulator, reason=fallback.reason, updated_at=now)
        )
        audit.append(
            now, "fell_back", job_id=fallback.job_id, tenant=rows[fallback.job_id].tenant,
            device=fallback.simulator, reason=fallback.reason,
            detail={"simulator_kind": fallback.simulator_kind.value},
        )
    for rejection in decisions.rejections:
        conn.execute(
            update(requests)
            .where(requests.c.job_id == rejection.job_id)
            .values(state="rejected", reason=rejection.reason, updated_at=now)
        )
        audit.append(now, "rejected", job_id=rejection.job_id,
                     tenant=rows[rejection.job_id].tenant, reason=rejection.reason)
    decided = {g.job_id for g in decisions.grants} | {f.job_id for f in decisions.fallbacks} | {
        r.job_id for r in decisions.rejections}
    if any(row.latest_start is not None and row.latest_start <= now and job_id not in decided
           for job_id, row in rows.items()):
        # Overdue but kept waiting (fallback mode "none", [B5]): `decide` has seen it, so
        # its latest start no longer makes a pass due on every poll.
        conn.execute(
            update(requests)
            .where(requests.c.state == "waiting", requests.c.latest_start <= now)
            .values(latest_start=None)
        )
    return replace(decisions, expirations=tuple(expired))
