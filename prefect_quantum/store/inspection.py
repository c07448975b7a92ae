"""Read-only views of the store for `prefect-quantum queue` and `usage` (both --json)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from prefect_quantum.scheduling import PolicyConfig, decayed_usage, usage_ratio
from prefect_quantum.store.schema import leases, requests, tenant_usage


def queue_view(conn: Connection, now: float, include_finished: bool) -> list[dict[str, Any]]:
    """Jobs waiting, running or on a fallback simulator (all jobs with
    `include_finished`), oldest first, with their current lease if any."""
    query = select(requests).order_by(requests.c.submitted_at, requests.c.job_id)
    if not include_finished:
        query = query.where(requests.c.state.in_(("waiting", "running", "fallback")))
    held = {row.job_id: row for row in conn.execute(select(leases))}
    out = []
    for row in conn.execute(query):
        lease = held.get(row.job_id)
        out.append({
            "job_id": row.job_id, "tenant": row.tenant,
            "priority_class": row.priority_class, "state": row.state,
            "submitted_at": row.submitted_at, "wait_s": now - row.submitted_at,
            "device": row.device if lease is None else lease.device,
            "lease_id": None if lease is None else lease.lease_id,
            "shots_done": row.shots_done, "shots_total": row.shots_total,
            "preemption_count": row.preemption_count,
            "retries_used": row.retries_used, "session": row.is_session,
            "fallback_kind": row.fallback_kind, "simulator": row.simulator,
            "reason": row.reason,
        })
    return out


def usage_view(conn: Connection, now: float, config: PolicyConfig) -> list[dict[str, Any]]:
    """Per tenant: decayed QPU-seconds (settled, in flight, effective), share and
    standing. Fractions and `rho` are over the active tenants ([F2])."""
    settled = {
        row.tenant: decayed_usage(row.decayed_qpu_seconds, row.as_of, now, 0.0,
                                  config.half_life_s)
        for row in conn.execute(select(tenant_usage))
    }
    in_flight: dict[str, float] = {}
    for row in conn.execute(select(leases.c.tenant, leases.c.started_at)):
        in_flight[row.tenant] = in_flight.get(row.tenant, 0.0) + max(0.0, now - row.started_at)
    active = set(conn.execute(
        select(requests.c.tenant).where(requests.c.state.in_(("waiting", "running"))).distinct()
    ).scalars())
    tenants = sorted(set(settled) | set(in_flight) | active)
    effective = {t: settled.get(t, 0.0) + in_flight.get(t, 0.0) for t in tenants}
    total_share = sum(config.share_of(t) for t in active)
    total_usage = max(1.0, sum(effective[t] for t in active))
    out = []
    for tenant in tenants:
        share = config.share_of(tenant)
        is_active = tenant in active
        rho = usage_ratio(effective[tenant], share, total_usage, total_share) if is_active \
            else None
        standing = ("idle" if rho is None else "below share" if rho < 0.95
                    else "over share" if rho > 1.05 else "at share")
        out.append({
            "tenant": tenant, "settled_qpu_s": settled.get(tenant, 0.0),
            "in_flight_qpu_s": in_flight.get(tenant, 0.0),
            "decayed_qpu_s": effective[tenant], "share": share, "active": is_active,
            "target_fraction": share / total_share if is_active else None,
            "usage_fraction": effective[tenant] / total_usage if is_active else None,
            "rho": rho, "standing": standing,
        })
    return out
