"""Preemption: who may be a victim [P3..P5] and which one [P1], [P6]."""

from __future__ import annotations

import math
from collections.abc import Iterable

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.fairshare import Standing
from prefect_quantum.scheduling.model import DeviceState, Lease, Request


def effective_class(priority_class: int, waited_s: float, config: PolicyConfig) -> int:
    """`e = min(max(c_max, c), c + floor(W / H))`: the class after aging ([F5])."""
    top = config.top_class
    promoted = priority_class + math.floor(max(0.0, waited_s) * config.aging_rate)
    return min(max(top, priority_class), promoted)


def lease_class(lease: Lease, now: float, config: PolicyConfig) -> int:
    """A running job's class for [P1] and [P6]: its effective class, aged from its original
    submission (base class when the lease does not carry it)."""
    if lease.submitted_at is None:
        return lease.priority_class
    return effective_class(lease.priority_class, now - lease.submitted_at, config)


def may_be_victim(lease: Lease, now: float, config: PolicyConfig) -> bool:
    """[P3] preemptible, unrestricted, not already asked; [P4] ran min_run_s; [P5] cap."""
    return (
        lease.preemptible
        and lease.compliance_domain is None
        and not lease.preemption_requested
        and now - lease.started_at >= config.min_run_s
        and lease.preemption_count < config.max_preemptions_per_job
    )


def victim_pool(
    live: Iterable[Lease], now: float, config: PolicyConfig, soon_free: set[str]
) -> dict[str, tuple[Lease, int]]:
    """Leases that may be preempted this pass, with their class, by device. A lease ending
    within the grace period is not a victim: waiting for it costs less ([P2])."""
    return {
        lease.device: (lease, lease_class(lease, now, config))
        for lease in live
        if lease.device not in soon_free and may_be_victim(lease, now, config)
    }


def choose_victim(
    request: Request,
    devices: Iterable[DeviceState],
    pool: dict[str, tuple[Lease, int]],
    standing: Standing,
) -> Lease | None:
    """The victim for `request` among `pool` on its eligible `devices`, or None.

    Only a class strictly below the request's base class [P1]; then lowest class, most over
    share, least work lost, job id [P6].
    """
    best: Lease | None = None
    best_key: tuple[int, float, float, str] | None = None
    for device in devices:
        entry = pool.get(device.name)
        if entry is None:
            continue
        lease, cls = entry
        if cls >= request.priority_class:
            continue
        key = (cls, -standing.rho(lease.tenant), lease.work_lost_s, lease.job_id)
        if best_key is None or key < best_key:
            best, best_key = lease, key
    return best
