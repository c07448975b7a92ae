"""Builders for scheduling tests and a tiny event loop that drives `decide` like the store.

The loop runs a pass on every submit, release and heartbeat tick; a preempted job releases
at once with its progress checkpointed and is re-queued keeping its original age ([L3]).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    Lease,
    PolicyConfig,
    Request,
    Snapshot,
    TenantUsage,
    decayed_usage,
    decide,
)

REF = PolicyConfig().reference_clops


def dev(name: str, **kw: object) -> DeviceState:
    base: dict[str, object] = {"online": True, "num_qubits": 127, "speed": REF}
    base.update(kw)
    return DeviceState(name=name, **base)  # type: ignore[arg-type]


def req(job_id: str, tenant: str = "t", cls: int = 1, at: float = 0.0, work: float = 10.0,
        **kw: object) -> Request:
    base: dict[str, object] = {"num_qubits": 5}
    base.update(kw)
    return Request(job_id=job_id, tenant=tenant, priority_class=cls, submitted_at=at,
                   work_s=work, **base)  # type: ignore[arg-type]


def lease(job_id: str, device: str, tenant: str = "t", cls: int = 0, started: float = 0.0,
          **kw: object) -> Lease:
    base: dict[str, object] = {"expires_at": math.inf, "work_remaining_s": 1e6}
    base.update(kw)
    return Lease(job_id=job_id, device=device, tenant=tenant, priority_class=cls,
                 started_at=started, **base)  # type: ignore[arg-type]


def snap(now: float, waiting: Iterable[Request] = (), leases: Iterable[Lease] = (),
         devices: Iterable[DeviceState] = (), usage: dict[str, float] | None = None) -> Snapshot:
    return Snapshot(
        now=now, waiting=tuple(waiting), leases=tuple(leases), devices=tuple(devices),
        usage={t: TenantUsage(t, u, now) for t, u in (usage or {}).items()},
    )


def granted(decisions: Decisions) -> dict[str, str]:
    return {g.job_id: g.device for g in decisions.grants}


@dataclass
class Running:
    request: Request
    lease: Lease
    end: float


@dataclass
class Trace:
    """What happened in a run of `drive`."""

    starts: dict[str, float] = field(default_factory=dict)  # first start per job
    completions: dict[str, float] = field(default_factory=dict)
    held: dict[str, float] = field(default_factory=dict)  # QPU-s per tenant, measured window
    preemptions: list[tuple[float, str, str]] = field(default_factory=list)  # (t, victim, by)
    fallbacks: dict[str, str] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)
    grant_log: list[tuple[float, str, str]] = field(default_factory=list)  # (t, job, device)
    passes: list[tuple[Snapshot, Decisions]] = field(default_factory=list)


def drive(
    arrivals: Sequence[Request],
    devices: Sequence[DeviceState],
    config: PolicyConfig,
    *,
    horizon: float,
    tick: float = 60.0,
    keep_passes: bool = False,
    measure_from: float = 0.0,
) -> Trace:
    """Run passes on submit, release and every `tick` until `horizon` or nothing is left."""
    pending = sorted(arrivals, key=lambda r: (r.submitted_at, r.job_id))
    waiting: dict[str, Request] = {}
    running: dict[str, Running] = {}  # by device
    ledger: dict[str, TenantUsage] = {}
    trace = Trace()
    now = 0.0

    def release(run: Running, at: float) -> None:
        tenant = run.request.tenant
        held = at - run.lease.started_at
        prev = ledger.get(tenant)
        ledger[tenant] = TenantUsage(tenant, decayed_usage(
            prev.decayed_qpu_seconds if prev else 0.0, prev.as_of if prev else at, at, held,
            config.half_life_s), at)
        lo, hi = max(run.lease.started_at, measure_from), min(at, horizon)
        if hi > lo:
            trace.held[tenant] = trace.held.get(tenant, 0.0) + (hi - lo)
        del running[run.lease.device]

    while now <= horizon and (pending or waiting or running):
        while pending and pending[0].submitted_at <= now:
            r = pending.pop(0)
            waiting[r.job_id] = r
        for run in list(running.values()):
            if run.end <= now:
                release(run, run.end)
                trace.completions[run.request.job_id] = run.end
        leases = tuple(
            dataclasses.replace(run.lease, work_remaining_s=max(0.0, run.end - now),
                                work_done_s=now - run.lease.started_at)
            for run in running.values()
        )
        snapshot = Snapshot(now, tuple(waiting.values()), leases, tuple(devices), dict(ledger))
        out = decide(snapshot, config)
        if keep_passes:
            trace.passes.append((snapshot, out))
        for g in out.grants:
            r = waiting.pop(g.job_id)
            trace.starts.setdefault(g.job_id, now)
            trace.grant_log.append((now, g.job_id, g.device))
            running[g.device] = Running(r, Lease(
                r.job_id, g.device, r.tenant, r.priority_class, now, math.inf,
                preemptible=r.preemptible, compliance_domain=r.compliance_domain,
                preemption_count=r.preemption_count, submitted_at=r.submitted_at),
                now + g.est_duration_s)
        for f in out.fallbacks:
            waiting.pop(f.job_id)
            trace.fallbacks[f.job_id] = f.reason
        for rj in out.rejections:
            waiting.pop(rj.job_id)
            trace.rejections[rj.job_id] = rj.reason
        for p in out.preemptions:
            run = running[p.device]
            trace.preemptions.append((now, p.victim_job_id, p.by_job_id))
            r = run.request
            duration = run.end - run.lease.started_at
            frac = 1.0 if duration <= 0 else (now - run.lease.started_at) / duration
            done = r.shots_done + math.floor((r.shots_total - r.shots_done) * frac)
            release(run, now)
            waiting[r.job_id] = dataclasses.replace(
                r, shots_done=min(done, r.shots_total), preemption_count=r.preemption_count + 1)
        if out.grants or out.preemptions or out.fallbacks or out.rejections:
            continue  # a release or decision triggers another pass at the same instant
        upcoming = [now + tick, *(run.end for run in running.values())]
        if pending:
            upcoming.append(pending[0].submitted_at)
        now = min(upcoming)
    for run in running.values():  # count time in flight up to the horizon too
        lo, hi = max(run.lease.started_at, measure_from), min(run.end, horizon)
        if hi > lo:
            trace.held[run.request.tenant] = trace.held.get(run.request.tenant, 0.0) + hi - lo
    return trace
