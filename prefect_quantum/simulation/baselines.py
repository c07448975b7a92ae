"""Baseline policies with `decide`'s signature, `(Snapshot, PolicyConfig) -> Decisions`.

Classic schedulers know nothing of compliance domains: they place a job on any free
online, calibrated device with enough qubits (the benchmark counts the violations). Each
takes the fastest free device unless said otherwise, and none falls back. The oracle
alone is compliance-aware: it is a clairvoyant heuristic (it sees future arrivals), an
optimistic reference rather than a proven optimum.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    Grant,
    PolicyConfig,
    Preemption,
    Request,
    Snapshot,
    decayed_usage,
)
from prefect_quantum.simulation.trace import TraceJob

Key = Callable[[Request, Snapshot, PolicyConfig], tuple[float, ...]]


def _free(snapshot: Snapshot) -> list[DeviceState]:
    busy = {lease.device for lease in snapshot.leases}
    return [d for d in snapshot.devices if d.online and d.calibration_ok
            and not d.is_simulator and d.name not in busy]


def _fits(request: Request, device: DeviceState, compliance: bool) -> bool:
    return device.num_qubits >= request.num_qubits and (
        not compliance or request.compliance_domain is None
        or request.compliance_domain in device.compliance_domains)


def _greedy(snapshot: Snapshot, config: PolicyConfig, key: Key,
            device_key: Callable[[DeviceState], tuple[float, str]] | None = None,
            compliance: bool = False) -> list[Grant]:
    free = _free(snapshot)
    free.sort(key=device_key or (lambda d: (-d.speed, d.name)))
    grants = []
    for request in sorted(snapshot.waiting, key=lambda r: (*key(r, snapshot, config),
                                                           r.submitted_at, r.job_id)):
        if not free:
            break
        for device in free:
            if _fits(request, device, compliance):
                free.remove(device)
                duration = request.remaining_work_s * config.reference_clops / device.speed
                grants.append(Grant(request.job_id, device.name, "baseline", duration))
                break
    return grants


def fifo(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """First come, first served."""
    return Decisions(grants=tuple(_greedy(snapshot, config, lambda r, s, c: ())))


def sjf(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """Shortest remaining work first."""
    return Decisions(grants=tuple(_greedy(
        snapshot, config, lambda r, s, c: (r.remaining_work_s,))))


def error_aware(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """FIFO, each job on the free device with the lowest error (highest est. fidelity)."""
    return Decisions(grants=tuple(_greedy(
        snapshot, config, lambda r, s, c: (), device_key=lambda d: (-d.est_fidelity, d.name))))


def fair_share(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """Plain fair-share: the tenant with the least decayed usage per share first, then
    FIFO; no classes, no preemption."""
    usage: dict[str, float] = {}
    for tenant, record in snapshot.usage.items():
        usage[tenant] = decayed_usage(record.decayed_qpu_seconds, record.as_of,
                                      snapshot.now, 0.0, config.half_life_s)
    for lease in snapshot.leases:
        usage[lease.tenant] = usage.get(lease.tenant, 0.0) + snapshot.now - lease.started_at
    free = sorted(_free(snapshot), key=lambda d: (-d.speed, d.name))
    grants = []
    pending = sorted(snapshot.waiting, key=lambda r: (r.submitted_at, r.job_id))
    while free and pending:  # re-rank after every grant, like [F4]
        request = min(pending, key=lambda r: (usage.get(r.tenant, 0.0)
                                              / config.share_of(r.tenant),
                                              r.submitted_at, r.job_id))
        pending.remove(request)
        device = next((d for d in free if _fits(request, d, False)), None)
        if device is None:
            continue
        free.remove(device)
        duration = request.remaining_work_s * config.reference_clops / device.speed
        usage[request.tenant] = usage.get(request.tenant, 0.0) + duration
        grants.append(Grant(request.job_id, device.name, "baseline", duration))
    return Decisions(grants=tuple(grants))


def static_priority(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """Strict priority classes, FIFO within a class; a waiting job preempts the lowest
    class running job below its own class at once (no grace, no minimum run, no cap)."""
    grants = _greedy(snapshot, config, lambda r, s, c: (-r.priority_class,))
    granted = {g.job_id for g in grants}
    victims = sorted((lease for lease in snapshot.leases if lease.preemptible),
                     key=lambda lease: (lease.priority_class, -lease.started_at, lease.job_id))
    preemptions = []
    for request in sorted(snapshot.waiting, key=lambda r: (-r.priority_class, r.submitted_at,
                                                           r.job_id)):
        if request.job_id in granted or not victims:
            continue
        victim = victims[0]
        if victim.priority_class >= request.priority_class:
            break
        victims.pop(0)
        preemptions.append(Preemption(victim.job_id, request.job_id, victim.device,
                                      victim.started_at, "static priority"))
    return Decisions(grants=tuple(grants), preemptions=tuple(preemptions))


def make_oracle(trace: Sequence[TraceJob], lookahead_s: float = 300.0,
                reserve_s: float = 120.0,
                tight_slack_s: float = 3600.0) -> Callable[[Snapshot, PolicyConfig], Decisions]:
    """A clairvoyant policy: it sees the jobs arriving in the next `lookahead_s` and knows
    exact run times. Order: urgent jobs first, then jobs whose deadline slack is under
    `tight_slack_s` (least slack first), then oldest first; a free device is kept idle
    for a coming job that ranks ahead of every waiting one and arrives within
    `reserve_s`. Compliance-aware; it never preempts."""
    arrivals = sorted(trace, key=lambda j: j.arrival_time)
    times = [j.arrival_time for j in arrivals]

    def rank(now: float, cls: int, deadline: float | None, work: float,
             submitted: float) -> tuple[float, ...]:
        slack = math.inf if deadline is None else deadline - now - work
        return (0.0 if cls >= 3 else 1.0, slack if slack < tight_slack_s else math.inf,
                submitted)

    def oracle(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
        now = snapshot.now
        lo = bisect.bisect_right(times, now)
        hi = bisect.bisect_right(times, now + lookahead_s)
        free = sorted(_free(snapshot), key=lambda d: (-d.speed, d.name))
        entries: list[tuple[tuple[float, ...], Request | TraceJob]] = [
            (rank(now, r.priority_class, r.deadline, r.remaining_work_s, r.submitted_at), r)
            for r in snapshot.waiting
        ]
        entries += [(rank(now, j.priority, j.deadline, j.work_s, j.arrival_time), j)
                    for j in arrivals[lo:hi]]
        entries.sort(key=lambda e: (e[0], e[1].job_id))
        grants = []
        for _, item in entries:
            if not free:
                break
            if isinstance(item, Request):
                device = next((d for d in free if _fits(item, d, True)), None)
                if device is not None:
                    free.remove(device)
                    duration = item.remaining_work_s * config.reference_clops / device.speed
                    grants.append(Grant(item.job_id, device.name, "oracle", duration))
            elif item.arrival_time - now <= reserve_s:
                domain = item.compliance_domain
                device = next((d for d in free if d.num_qubits >= item.num_qubits and (
                    domain is None or domain in d.compliance_domains)), None)
                if device is not None:
                    free.remove(device)  # kept idle for the coming job
        return Decisions(grants=tuple(grants))

    return oracle
