"""Preemption: who may be a victim [P3..P5] and which one [P1], [P6]."""

from __future__ import annotations

from collections.abc import Iterable

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.fairshare import Standing
from prefect_quantum.scheduling.model import DeviceState, Lease, Request


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
) -> dict[str, Lease]:
    """Leases that may be preempted this pass, by device. A lease ending within the grace
    period is not a victim: waiting for it costs less ([P2])."""
    return {
        lease.device: lease
        for lease in live
        if lease.device not in soon_free and may_be_victim(lease, now, config)
    }


def choose_victim(
    request: Request,
    devices: Iterable[DeviceState],
    pool: dict[str, Lease],
    standing: Standing,
) -> Lease | None:
    """The victim for `request` among `pool` on its eligible `devices`, or None.

    Strictly lower class only [P1]; then lowest class, most over share, least work lost,
    job id [P6].
    """
    best: Lease | None = None
    best_key: tuple[int, float, float, str] | None = None
    for device in devices:
        lease = pool.get(device.name)
        if lease is None or lease.priority_class >= request.priority_class:
            continue
        key = (lease.priority_class, -standing.rho(lease.tenant), lease.work_lost_s, lease.job_id)
        if best_key is None or key < best_key:
            best, best_key = lease, key
    return best
