"""The policy benchmark's discrete-event simulator: it drives any policy with
`decide`'s signature, `(Snapshot, PolicyConfig) -> Decisions`, on a simulated clock.

Events (heap keyed `(time, order, seq)`): device up/down changes first, then finishes,
then arrivals, then periodic passes; `seq` keeps insertion order. After each instant's
events one decision pass runs (and one every `pass_period_s` while jobs wait). The
simulator plays the store and the workers: a grant becomes a lease (heartbeated, so it
never expires), a preemption stops the victim at once (work since its last checkpoint is
lost) and re-queues it with its checkpointed shots, an outage or a calibration window
does the same to the running job (an outage also counts a retry), and a restarted job pays
the scenario's warm-up. Deterministic: same trace, scenario, seed and policy, same output.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    FallbackMode,
    Lease,
    PolicyConfig,
    Request,
    Snapshot,
    TenantUsage,
    decayed_usage,
)
from prefect_quantum.simulation.fleet_model import (
    FLEET,
    Scenario,
    SimDevice,
    Timeline,
    device_fidelity,
    draw_timeline,
    success_probability,
)
from prefect_quantum.simulation.trace import TraceJob

Policy = Callable[[Snapshot, PolicyConfig], Decisions]
_DEVICE, _FINISH, _ARRIVAL, _TICK = 0, 1, 2, 3

BENCH_CONFIG = PolicyConfig(fallback_default=FallbackMode.NONE)


@dataclass
class JobOutcome:
    """What happened to one job."""

    job: TraceJob
    first_start: float | None = None
    finish: float | None = None
    device: str | None = None
    run_s: float = 0.0  # device-seconds held, lost work and warm-ups included
    lost_s: float = 0.0
    preemptions: int = 0
    interruptions: int = 0
    success: float = 0.0
    compliance_violation: bool = False
    fallback: bool = False
    rejected: bool = False


@dataclass
class _Run:
    job_id: str
    device: int
    started: float
    work_left: float  # reference work-seconds at start (after warm-up)
    warmup: float
    finish: float
    version: int


@dataclass
class SimResult:
    """Per-job outcomes, usage samples for fairness over time, and the device-busy time."""

    policy: str
    outcomes: dict[str, JobOutcome]
    busy_s: float
    end_s: float
    num_devices: int
    passes: int
    service_by_window: list[dict[str, float]] = field(default_factory=list)
    backlog_by_window: list[dict[str, float]] = field(default_factory=list)
    window_s: float = 1800.0


class Simulator:
    """One run of one policy over one trace and one scenario seed."""

    def __init__(self, trace: Sequence[TraceJob], policy: Policy, sc: Scenario, seed: int,
                 config: PolicyConfig = BENCH_CONFIG, fleet: tuple[SimDevice, ...] = FLEET,
                 pass_period_s: float = 60.0, window_s: float = 1800.0) -> None:
        self.trace = list(trace)
        self.policy = policy
        self.sc = sc
        self.config = config
        self.fleet = fleet
        self.index = {d.name: i for i, d in enumerate(fleet)}
        horizon = max((j.arrival_time for j in self.trace), default=0.0) + 1.0
        self.timeline: Timeline = draw_timeline(sc, seed, horizon, fleet)
        self.pass_period_s = pass_period_s
        self.window_s = window_s
        self.now = 0.0
        self.heap: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.waiting: dict[str, Request] = {}
        self.running: dict[int, _Run] = {}
        self.down: list[tuple[bool, bool]] = [(False, False)] * len(fleet)  # outage, calib
        self.usage: dict[str, TenantUsage] = {}
        self.outcomes = {j.job_id: JobOutcome(j) for j in self.trace}
        self.jobs = {j.job_id: j for j in self.trace}
        self.busy_s = 0.0
        self.versions = 0
        self.passes = 0
        self.tick_pending = False
        self.windows: list[dict[str, float]] = []
        self.backlog: list[dict[str, float]] = []
        self.granted: dict[str, Request] = {}  # the request each running job was granted

    # --- event plumbing -------------------------------------------------------------
    def push(self, when: float, kind: int, payload: object) -> None:
        heapq.heappush(self.heap, (when, kind, self.seq, payload))
        self.seq += 1

    def run(self, name: str) -> SimResult:
        """Simulate until every job has finished, fallen back or been rejected."""
        for job in self.trace:
            self.push(job.arrival_time, _ARRIVAL, job.job_id)
        for i, intervals in enumerate(self.timeline.down):
            for start, end, outage in intervals:
                self.push(start, _DEVICE, (i, outage, True))
                self.push(end, _DEVICE, (i, outage, False))
        unresolved = len(self.trace)
        while self.heap and unresolved:
            when = self.heap[0][0]
            self._note_backlog(when)
            self.now = when
            while self.heap and self.heap[0][0] == when:
                _, kind, _, payload = heapq.heappop(self.heap)
                self._handle(kind, payload)
            self._pass()
            unresolved = sum(
                1 for o in self.outcomes.values()
                if o.finish is None and not o.fallback and not o.rejected
            )
        return SimResult(name, self.outcomes, self.busy_s, self.now, len(self.fleet),
                         self.passes, self.windows, self.backlog, self.window_s)

    def _note_backlog(self, until: float) -> None:
        """Credit every tenant with a waiting job the time from now to `until`."""
        tenants = {r.tenant for r in self.waiting.values()}
        t = self.now
        while tenants and t < until:
            window = int(t // self.window_s)
            end = min(until, (window + 1) * self.window_s)
            while len(self.backlog) <= window:
                self.backlog.append({})
            for tenant in tenants:
                self.backlog[window][tenant] = self.backlog[window].get(tenant, 0.0) + end - t
            t = end

    def _handle(self, kind: int, payload: object) -> None:
        if kind == _ARRIVAL:
            assert isinstance(payload, str)
            job = self.jobs[payload]
            self.waiting[job.job_id] = Request(
                job.job_id, job.tenant, job.priority, job.arrival_time, job.work_s,
                job.num_qubits, compliance_domain=job.compliance_domain,
                preemptible=job.preemptible, deadline=job.deadline,
                shots_total=max(1, job.num_shots),
            )
        elif kind == _FINISH:
            assert isinstance(payload, tuple)
            device, version = payload
            run = self.running.get(device)
            if run is not None and run.version == version:
                self._complete(device, run)
        elif kind == _DEVICE:
            assert isinstance(payload, tuple)
            device, outage, starts = payload
            was_outage, was_calib = self.down[device]
            self.down[device] = ((starts if outage else was_outage),
                                 (was_calib if outage else starts))
            if starts and device in self.running:
                self._interrupt(device, counts_retry=outage)
        elif kind == _TICK:
            self.tick_pending = False

    # --- state changes ----------------------------------------------------------------
    def _charge(self, tenant: str, seconds: float) -> None:
        record = self.usage.get(tenant)
        before = 0.0 if record is None else record.decayed_qpu_seconds
        as_of = self.now if record is None else record.as_of
        value = decayed_usage(before, as_of, self.now, seconds, self.config.half_life_s)
        self.usage[tenant] = TenantUsage(tenant, value, self.now)
        t = self.now - seconds
        while t < self.now:  # service spread over the windows it was delivered in
            window = int(t // self.window_s)
            end = min(self.now, (window + 1) * self.window_s)
            while len(self.windows) <= window:
                self.windows.append({})
            self.windows[window][tenant] = self.windows[window].get(tenant, 0.0) + end - t
            t = end

    def _release(self, device: int, run: _Run) -> float:
        held = self.now - run.started
        self.busy_s += held
        outcome = self.outcomes[run.job_id]
        outcome.run_s += held
        self._charge(self.jobs[run.job_id].tenant, held)
        del self.running[device]
        return held

    def _complete(self, device: int, run: _Run) -> None:
        self._release(device, run)
        outcome = self.outcomes[run.job_id]
        job = outcome.job
        outcome.finish = self.now
        outcome.device = self.fleet[device].name
        score = self.timeline.error_score(device, self.fleet[device].error_score, run.started)
        outcome.success = success_probability(score, job.num_qubits, job.depth)

    def _interrupt(self, device: int, *, counts_retry: bool, preempted: bool = False) -> None:
        """Stop the running job now; keep its checkpointed work and re-queue it."""
        run = self.running[device]
        held = self._release(device, run)
        speed = self.fleet[device].speed / self.config.reference_clops
        worked = max(0.0, held - run.warmup)  # device-seconds of real work
        kept = math.floor(worked / self.sc.checkpoint_s) * self.sc.checkpoint_s
        outcome = self.outcomes[run.job_id]
        outcome.lost_s += (worked - kept) + min(held, run.warmup)
        outcome.preemptions += preempted
        outcome.interruptions += not preempted
        job = self.jobs[run.job_id]
        left = max(0.0, run.work_left - kept * speed)
        done_fraction = 1.0 - left / job.work_s if job.work_s > 0 else 1.0
        shots_total = max(1, job.num_shots)
        shots_done = min(shots_total - 1, int(done_fraction * shots_total))
        previous = self.granted.get(run.job_id)
        base = previous if previous is not None else Request(
            job.job_id, job.tenant, job.priority, job.arrival_time, job.work_s,
            job.num_qubits, compliance_domain=job.compliance_domain,
            preemptible=job.preemptible, deadline=job.deadline, shots_total=shots_total)
        self.waiting[run.job_id] = replace(
            base, shots_done=max(base.shots_done, shots_done),
            preemption_count=base.preemption_count + preempted,
            retries_used=base.retries_used + counts_retry,
        )

    def _start(self, job_id: str, device: int) -> None:
        request = self.waiting.pop(job_id)
        self.granted[job_id] = request
        job = self.jobs[job_id]
        outcome = self.outcomes[job_id]
        restarted = outcome.first_start is not None
        if outcome.first_start is None:
            outcome.first_start = self.now
        if job.compliance_domain is not None and (
            job.compliance_domain not in self.fleet[device].compliance_domains
        ):
            outcome.compliance_violation = True
        warmup = self.sc.warmup_s if restarted else 0.0
        work_left = request.remaining_work_s
        duration = warmup + work_left * self.config.reference_clops / self.fleet[device].speed
        self.versions += 1
        run = _Run(job_id, device, self.now, work_left, warmup, self.now + duration,
                   self.versions)
        self.running[device] = run
        self.push(run.finish, _FINISH, (device, run.version))

    # --- the decision pass --------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        now = self.now
        devices = []
        for i, d in enumerate(self.fleet):
            outage, calib = self.down[i]
            score = self.timeline.error_score(i, d.error_score, now)
            devices.append(DeviceState(
                d.name, not outage, d.num_qubits, d.speed, calibration_ok=not calib,
                est_fidelity=device_fidelity(score), compliance_domains=d.compliance_domains,
            ))
        leases = []
        for i, run in self.running.items():
            job = self.jobs[run.job_id]
            request = self.granted[run.job_id]
            leases.append(Lease(
                run.job_id, self.fleet[i].name, job.tenant, job.priority, run.started,
                now + self.config.lease_ttl_s, preemptible=job.preemptible,
                compliance_domain=job.compliance_domain,
                preemption_count=request.preemption_count,
                work_done_s=max(0.0, now - run.started - run.warmup),
                checkpointed_s=math.floor(max(0.0, now - run.started - run.warmup)
                                          / self.sc.checkpoint_s) * self.sc.checkpoint_s,
                work_remaining_s=max(0.0, run.finish - now),
                submitted_at=job.arrival_time,
            ))
        return Snapshot(now, tuple(self.waiting.values()), tuple(leases), tuple(devices),
                        dict(self.usage))

    def _pass(self) -> None:
        for _ in range(3):  # a preemption's release pass runs at the same instant [P7]
            if not self.waiting or not self._pass_once():
                return

    def _pass_once(self) -> bool:
        """One decision pass; True when it preempted (another pass should follow)."""
        self.passes += 1
        decisions = self.policy(self._snapshot(), self.config)
        for preemption in decisions.preemptions:
            device = self.index[preemption.device]
            run = self.running.get(device)
            if run is not None and run.job_id == preemption.victim_job_id:
                self._interrupt(device, counts_retry=False, preempted=True)
        for grant in decisions.grants:
            device = self.index[grant.device]
            outage, calib = self.down[device]
            if grant.job_id in self.waiting and device not in self.running and not (
                outage or calib
            ):
                self._start(grant.job_id, device)
        for fallback in decisions.fallbacks:
            if self.waiting.pop(fallback.job_id, None) is not None:
                self.outcomes[fallback.job_id].fallback = True
        for rejection in decisions.rejections:
            if self.waiting.pop(rejection.job_id, None) is not None:
                self.outcomes[rejection.job_id].rejected = True
        if self.waiting and not self.tick_pending:
            self.tick_pending = True
            self.push(self.now + self.pass_period_s, _TICK, None)
        return bool(decisions.preemptions)


def simulate(trace: Sequence[TraceJob], policy: Policy, name: str, sc: Scenario, seed: int,
             config: PolicyConfig = BENCH_CONFIG) -> SimResult:
    """Run one policy once."""
    return Simulator(trace, policy, sc, seed, config).run(name)
