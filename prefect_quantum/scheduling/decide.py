"""`decide`: one decision pass (docs/scheduling.md, "The decision pass")."""

from __future__ import annotations

import heapq
import math
from operator import attrgetter

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.fairshare import Standing
from prefect_quantum.scheduling.fallback import can_start_in_time, fall_back
from prefect_quantum.scheduling.leases import expiry_reason
from prefect_quantum.scheduling.model import (
    Decisions,
    DeviceState,
    Expiration,
    Fallback,
    Grant,
    Lease,
    Preemption,
    Rejection,
    Request,
    Signature,
    Snapshot,
)
from prefect_quantum.scheduling.placement import (
    Availability,
    FleetIndex,
    calibration_fresh,
    duration_on,
)
from prefect_quantum.scheduling.preemption import choose_victim, victim_pool

_AGE_KEY = attrgetter("age_key")
_SUBMITTED = attrgetter("submitted_at")
_JOB_ID = attrgetter("job_id")

BucketKey = tuple[int, str]  # (class, tenant): base class in a bucket, effective in a group
HeapEntry = tuple[int, float, int, float, str, BucketKey, int]


class _Pass:
    """Mutable working state of one `decide` call; never outlives it."""

    def __init__(self, snapshot: Snapshot, config: PolicyConfig) -> None:
        self.snapshot = snapshot
        self.config = config
        self.now = now = snapshot.now
        self.grants: list[Grant] = []
        self.preemptions: list[Preemption] = []
        self.fallbacks: list[Fallback] = []
        self.rejections: list[Rejection] = []
        self.expirations: list[Expiration] = []
        self.decided: set[str] = set()  # fell back or rejected in this pass
        self.holding: set[str] = set()  # claimed a soon-free device or preempted a victim
        self.devices: tuple[DeviceState, ...] = snapshot.devices
        self.fleet = FleetIndex(self.devices, config)
        self.eligible = self.fleet.eligibility

        # [L1..L3] expired leases free their device in this very pass.
        live: list[Lease] = []
        for lease in sorted(snapshot.leases, key=attrgetter("device", "job_id")):
            reason = expiry_reason(lease, now, config)
            if reason is None:
                live.append(lease)
            else:
                self.expirations.append(Expiration(lease.job_id, lease.device, reason))
        self.live = live
        busy = {lease.device: lease for lease in live}
        # [A3] free: an online, calibrated QPU without a live lease.
        self.free: set[str] = {
            d.name
            for d in self.devices
            if not d.is_simulator and d.online and d.name not in busy
            and calibration_fresh(d, config)
        }
        # Estimated time each busy device frees ([P2], [B1]); updated by grants.
        self.free_at: dict[str, float] = {
            lease.device: now if lease.preemption_requested else now + lease.work_remaining_s
            for lease in live
        }
        self.soon_free: set[str] = {
            device for device, t in self.free_at.items() if t <= now + config.preemption_grace_s
        }
        self.claimed: set[str] = set()
        self.victims = victim_pool(live, now, config, self.soon_free)

    def fall_back(self, request: Request, reason: str, *, permanent: bool) -> bool:
        """Record a fallback or rejection; False when the request keeps waiting."""
        outcome = fall_back(
            request, self.fleet.simulators(request.num_qubits, request.compliance_domain),
            reason, self.config,
            simulators_listed=self.fleet.simulators_listed, permanent=permanent,
        )
        if outcome is not None:
            self.decided.add(request.job_id)
        if isinstance(outcome, Fallback):
            self.fallbacks.append(outcome)
        elif isinstance(outcome, Rejection):
            self.rejections.append(outcome)
        return outcome is not None


def decide(snapshot: Snapshot, config: PolicyConfig) -> Decisions:
    """Grants, preemption requests, fallbacks, expirations and rejections at `snapshot.now`.

    Pure and deterministic: the same snapshot and config give the same decisions, whatever
    the order of the snapshot's sequences.
    """
    state = _Pass(snapshot, config)
    now = state.now
    alpha = config.aging_rate
    top = config.top_class
    eligible_for = state.eligible
    has_eligible = state.fleet.has_eligible
    max_retries = config.retries

    weight = config.work_weight
    horizon = config.aging_horizon_s
    strict = config.strict_level
    shared = strict - 1  # the band of every class below `c_s` [F3]

    # One linear scan: static outcomes [B2..B4, B7] and buckets [F3]. Each request is
    # touched once here: its v_r ([F3] submitted_at + work_weight * remaining work) goes
    # to a list of floats parallel to its bucket, so later steps scan floats only.
    # [F7] with a tolerance band, v_r = submitted_at + kappa * R_r / w_r with w_r = 1 + c_r -
    # c_min: aged weighted shortest work first (Smith's rule), one more unit of weight per
    # class level; without one (tau = 0) w_r = 1 and [F3] is unchanged.
    lowest = min(config.priority_classes.values())
    weighted = config.fair_tolerance > 0.0

    class _Scale(dict[int, float]):
        def __missing__(self, cls: int) -> float:
            value = self[cls] = 1.0 / max(1, 1 + cls - lowest) if weighted else 1.0
            return value

    class_scale = _Scale()
    buckets: dict[BucketKey, list[Request]] = {}
    bucket_vs: dict[BucketKey, list[float]] = {}
    barred: list[Request] = []
    timed: list[Request] = []  # requests with a max_wait_s or deadline [B1]
    servable: dict[Signature, bool] = {}  # has an eligible QPU this pass (cached per signature)
    inf = math.inf
    oldest = inf  # the smallest submitted_at among bucketed requests
    for request in snapshot.waiting:
        signature = request.signature
        serve = servable.get(signature)
        if serve is None:
            serve = servable[signature] = has_eligible(signature)
        if serve and request.retries_used <= max_retries:
            submitted = request.submitted_at
            if submitted < oldest:
                oldest = submitted
            bucket_key = request.bucket_key
            if weighted:
                v = (submitted + weight * request.remaining_work_s
                     * class_scale[request.priority_class])
            else:
                v = submitted + weight * request.remaining_work_s
            found = buckets.get(bucket_key)
            if found is None:
                buckets[bucket_key] = [request]
                bucket_vs[bucket_key] = [v]
            else:
                found.append(request)
                bucket_vs[bucket_key].append(v)
            if request.latest_start != inf:
                timed.append(request)
        else:
            barred.append(request)
    if weight == 0.0:  # v_r is submitted_at itself
        bucket_vs = {key: list(map(_SUBMITTED, bucket)) for key, bucket in buckets.items()}
    if barred:
        barred_ids = {request.job_id for request in barred}
        timed = [r for r in timed if r.job_id not in barred_ids]
    overdue_ids = {r.job_id for r in timed if r.latest_start <= now}
    for request in sorted(barred, key=_AGE_KEY):
        _bar(state, request, eligible_for(request.signature).availability)

    standing = Standing(
        {tenant for _, tenant in buckets}, snapshot.usage, state.live, now, config
    )
    factor: dict[str, float] = {t: standing.factor(t) for t in standing.usage}
    version: dict[str, int] = dict.fromkeys(factor, 0)
    remaining: dict[int, int] = {}
    for (cls, _), bucket in buckets.items():
        remaining[cls] = remaining.get(cls, 0) + len(bucket)

    # Groups [F3]: one per (effective class, tenant), so a group is ordered by v_r alone.
    # A bucket none of whose requests has waited H keeps its base class as it is [F5]; when
    # no request at all has, every bucket is its own group.
    groups: dict[BucketKey, list[Request]] = buckets
    group_vs: dict[BucketKey, list[float]] = bucket_vs
    if now - oldest >= horizon:
        groups, group_vs = {}, {}
        for key, bucket in buckets.items():
            vs = bucket_vs[key]
            if now - min(map(_SUBMITTED, bucket)) < horizon:
                group = groups.get(key)
                if group is None:
                    groups[key], group_vs[key] = bucket, vs
                else:
                    group.extend(bucket)
                    group_vs[key].extend(vs)
                continue
            cls, tenant = key
            for request, v in zip(bucket, vs, strict=True):
                wait = max(0.0, now - request.submitted_at)
                e = min(max(top, cls), cls + math.floor(wait * alpha))  # effective_class
                group_key = (e, tenant)
                group = groups.get(group_key)
                if group is None:
                    groups[group_key], group_vs[group_key] = [request], [v]
                else:
                    group.append(request)
                    group_vs[group_key].append(v)

    def head_of(group: list[Request], vs: list[float]) -> Request:
        """The group's smallest (v_r, job_id), scanning a list of floats."""
        v = min(vs)
        if vs.count(v) == 1:
            return group[vs.index(v)]
        return min((r for r, x in zip(group, vs, strict=True) if x == v), key=_JOB_ID)

    # [F7] Tolerance band: a tenant of the shared band whose usage per share is within
    # (1 + tau) of the least such usage among the tenants still waiting in the shared band
    # competes by v_r alone (class-weighted, above) with the others inside the band; the
    # rest follow, by F_t as in [F3]. tau = 0 is [F3] exactly. When the floor moves (a charge to the
    # least-served tenant, or its last shared request popped) keys may improve, so every
    # entry is re-keyed at once (the lazy re-keying of [F4] only handles keys that worsen).
    tolerance = config.fair_tolerance
    share_of = config.share_of
    shared_left: dict[str, int] = {}
    if tolerance > 0.0:
        for (e, tenant), group in groups.items():
            if e < strict:
                shared_left[tenant] = shared_left.get(tenant, 0) + len(group)
    usage_now = standing.usage

    def band_floor() -> float:
        if not shared_left:
            return -inf
        return (1.0 + tolerance) * min(usage_now[t] / share_of(t) for t in shared_left)

    floor = band_floor()

    def entry(key: BucketKey, head: Request) -> HeapEntry:
        # [F3], [F5]: (-band, -(F_t + A), -e, submitted_at, job_id) of the group's head, with
        # A = alpha * W_head in a strict band and 0 in the shared band; [F7] inside the
        # tolerance band: (-band, -2, 0, v_head, job_id).
        e, tenant = key
        if e >= strict:
            return (-e, -(factor[tenant] + alpha * max(0.0, now - head.submitted_at)), -e,
                    head.submitted_at, head.job_id, key, version[tenant])
        if tolerance > 0.0 and usage_now[tenant] / share_of(tenant) <= floor:
            return (-shared, -2.0, 0, head.submitted_at
                    + weight * head.remaining_work_s * class_scale[head.priority_class],
                    head.job_id, key, version[tenant])
        return (-shared, -factor[tenant], -e, head.submitted_at, head.job_id, key,
                version[tenant])

    # A group is sorted only when first popped; until then its head is its min.
    heap = [entry(key, head_of(group, group_vs[key])) for key, group in groups.items()]
    heapq.heapify(heap)
    position: dict[BucketKey, int] = {}
    granted: set[str] = set()

    def current_head(key: BucketKey) -> Request:
        index = position.get(key)
        if index is None:
            return head_of(groups[key], group_vs[key])
        return groups[key][index]

    while heap:
        if not state.free and not _preemption_possible(state, remaining):
            break
        top_entry = heapq.heappop(heap)
        key = top_entry[5]
        tenant = key[1]
        bucket = groups[key]
        index = position.get(key)
        if index is None:
            # Stable: by (v_r, job_id), then the group's own order, as two stable sorts.
            vs = group_vs.pop(key)
            ids = list(map(_JOB_ID, bucket))
            order = sorted(range(len(bucket)), key=ids.__getitem__)
            order.sort(key=vs.__getitem__)
            bucket = groups[key] = [bucket[i] for i in order]
            index = 0
        if top_entry[6] != version[tenant]:  # tenant charged this pass [F4]
            position[key] = index
            heapq.heappush(heap, entry(key, bucket[index]))
            continue
        request = bucket[index]
        position[key] = index + 1
        remaining[request.priority_class] -= 1
        charged = _serve(state, standing, request, request.job_id in overdue_ids)
        if charged:
            granted.add(request.job_id)
            factor[tenant] = standing.factor(tenant)
            version[tenant] += 1
        if tenant in shared_left:  # [F7] only a shared-band tenant moves the floor
            left = shared_left[tenant] - (key[0] < strict)
            if left <= 0:
                del shared_left[tenant]
            else:
                shared_left[tenant] = left
            if charged or left <= 0:
                moved = band_floor()
                if moved != floor:  # [F7] re-key every group at its current head
                    floor = moved
                    heap = [entry(k, current_head(k)) for *_, k, _ in heap]
                    heapq.heapify(heap)
        if index + 1 < len(bucket):
            heapq.heappush(heap, entry(key, bucket[index + 1]))

    # [B1] for every timed request still waiting: overdue, or cannot start in time even
    # on the earliest-freeing eligible device (the queue ahead of it ignored).
    earliest: dict[Signature, float] = {}
    for request in sorted(timed, key=_AGE_KEY):
        job_id = request.job_id
        if job_id in granted or job_id in state.decided or job_id in state.holding:
            continue
        signature = request.signature
        if request.latest_start <= now:
            reason = "[B1] could not start before max_wait_s / deadline"
        else:
            start = earliest.get(signature)
            if start is None:
                free_at = state.free_at
                start = earliest[signature] = min(
                    (free_at.get(d.name, now) for d in eligible_for(signature).devices),
                    default=math.inf,
                )
            if can_start_in_time(start, request):
                continue
            reason = (f"[B1] earliest estimated start {start - now:.0f}s from now misses "
                      "max_wait_s / deadline")
        state.fall_back(request, reason, permanent=False)

    return Decisions(
        grants=tuple(state.grants),
        preemptions=tuple(state.preemptions),
        fallbacks=tuple(state.fallbacks),
        expirations=tuple(state.expirations),
        rejections=tuple(state.rejections),
    )


def _bar(state: _Pass, request: Request, availability: Availability) -> None:
    """Fall back or reject a request no QPU may take now ([B2..B4], [B7], [C2])."""
    if request.retries_used > state.config.retries:
        state.fall_back(
            request,
            f"[B4] retries exhausted ({request.retries_used} > {state.config.retries})",
            permanent=True,
        )
        return
    label = {Availability.NO_QPU: "[B7]", Availability.OFFLINE: "[B2]"}.get(
        availability, "[B3]"
    )
    state.fall_back(
        request, f"{label} {availability.value}",
        permanent=availability is Availability.NO_QPU,
    )


def _preemption_possible(state: _Pass, remaining: dict[int, int]) -> bool:
    """Could any request still in the heap preempt any remaining victim? ([P1])"""
    if not state.victims:
        return False
    lowest = min(cls for _, cls in state.victims.values())
    strict = state.config.strict_level
    return any(count > 0 and cls > lowest and cls >= strict for cls, count in remaining.items())


def _serve(state: _Pass, standing: Standing, request: Request, overdue: bool) -> bool:
    """Grant a device to, claim a soon-free device for, or preempt for one request;
    True when it was granted."""
    config = state.config
    now = state.now
    eligible = state.eligible(request.signature)
    free = state.free
    for device in eligible.devices:  # best placement first [A2]
        if device.name in free:
            duration = duration_on(request.remaining_work_s, device, config)
            free.discard(device.name)
            state.free_at[device.name] = now + duration
            state.grants.append(Grant(
                request.job_id, device.name,
                f"[A2] best free eligible device; [F3] tenant rho "
                f"{standing.rho(request.tenant):.3f}",
                duration,
            ))
            standing.charge(request.tenant, duration)  # [F4]
            return True
    if overdue:  # neither claims nor preempts: it falls back at the end of the pass [B1]
        return False
    for device in eligible.devices:  # [P2] a device frees within the grace period
        if device.name in state.soon_free and device.name not in state.claimed:
            state.claimed.add(device.name)
            state.holding.add(request.job_id)
            return False
    if request.priority_class < config.strict_level:  # [P8] shared classes never preempt
        return False
    victim = choose_victim(request, eligible.devices, state.victims, standing)
    if victim is not None:
        del state.victims[victim.device]
        state.claimed.add(victim.device)
        state.holding.add(request.job_id)
        state.free_at[victim.device] = now
        state.preemptions.append(Preemption(
            victim.job_id, request.job_id, victim.device, victim.started_at,
            f"[P1] class {request.priority_class} > running class, nothing frees "
            f"within {config.preemption_grace_s:g}s [P2]; victim by [P6]",
        ))
    return False
