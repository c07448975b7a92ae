"""Property tests of `decide` (Hypothesis): the invariants of docs/scheduling.md."""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sched_helpers import REF, dev, drive, lease, req

from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    FallbackMode,
    Lease,
    PolicyConfig,
    Request,
    Snapshot,
    TenantUsage,
    decide,
    jain_index,
)
from prefect_quantum.scheduling.preemption import lease_class

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOOP = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOMAINS = st.sampled_from([None, "fedramp", "gdpr"])
CFG = PolicyConfig(min_run_s=50.0, preemption_grace_s=30.0, max_preemptions_per_job=2)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    now = 1000.0
    n_dev = draw(st.integers(1, 6))
    devices: list[DeviceState] = []
    for i in range(n_dev):
        devices.append(DeviceState(
            name=f"q{i}", online=draw(st.booleans()) or draw(st.booleans()),
            num_qubits=draw(st.sampled_from([5, 27, 127])),
            speed=draw(st.sampled_from([REF / 4, REF, REF * 3])),
            calibration_ok=draw(st.booleans()) or draw(st.booleans()),
            calibration_age_s=draw(st.sampled_from([0.0, 1000.0, 200_000.0])),
            est_fidelity=draw(st.floats(0.3, 1.0)),
            compliance_domains=frozenset(draw(st.sets(st.sampled_from(["fedramp", "gdpr"])))),
        ))
    for i in range(draw(st.integers(0, 2))):
        devices.append(DeviceState(
            name=f"sim{i}", online=True, num_qubits=draw(st.sampled_from([10, 200])),
            speed=REF, is_simulator=True,
            compliance_domains=frozenset(draw(st.sets(st.sampled_from(["fedramp", "gdpr"]))))))
    tenants = st.sampled_from(["a", "b", "c", "d"])
    leases: list[Lease] = []
    for d in devices[:n_dev]:
        if draw(st.booleans()):
            leases.append(Lease(
                job_id=f"run-{d.name}", device=d.name, tenant=draw(tenants),
                priority_class=draw(st.integers(0, 3)),
                started_at=draw(st.sampled_from([0.0, 960.0, 999.0])),
                expires_at=draw(st.sampled_from([990.0, 2000.0])),
                preemptible=draw(st.booleans()), compliance_domain=draw(DOMAINS),
                preemption_requested=draw(st.booleans()) and draw(st.booleans()),
                preemption_count=draw(st.integers(0, 3)),
                work_done_s=draw(st.floats(0, 100)), work_remaining_s=draw(
                    st.sampled_from([5.0, 500.0])),
                is_session=draw(st.booleans()),
                submitted_at=draw(st.none() | st.sampled_from([-20_000.0, -4000.0, 0.0]))))
    waiting: list[Request] = []
    for k in range(draw(st.integers(0, 12))):
        waiting.append(Request(
            job_id=f"j{k:02d}", tenant=draw(tenants), priority_class=draw(st.integers(0, 3)),
            submitted_at=draw(st.floats(0.0, 1000.0)), work_s=draw(st.floats(0.0, 300.0)),
            num_qubits=draw(st.sampled_from([2, 20, 100, 300])),
            allowed_devices=draw(st.none() | st.frozensets(
                st.sampled_from([f"q{i}" for i in range(6)]), max_size=3)),
            compliance_domain=draw(DOMAINS),
            max_wait_s=draw(st.sampled_from([math.inf, 10.0, 5000.0])),
            fallback=draw(st.none() | st.sampled_from(list(FallbackMode))),
            retries_used=draw(st.integers(0, 4))))
    usage = {t: TenantUsage(t, draw(st.floats(0, 1e5)), draw(st.floats(0, 1000)))
             for t in draw(st.sets(tenants))}
    return Snapshot(now, tuple(waiting), tuple(leases), tuple(devices), usage)


def check_invariants(snapshot: Snapshot, out: Decisions, config: PolicyConfig) -> None:
    now = snapshot.now
    devices = {d.name: d for d in snapshot.devices}
    requests = {r.job_id: r for r in snapshot.waiting}
    expired = {e.job_id for e in out.expirations}
    live = {lease.device: lease for lease in snapshot.leases if lease.job_id not in expired}
    # [A3] at most one job per device, counting live leases and this pass's grants.
    granted_devices = [g.device for g in out.grants]
    assert len(granted_devices) == len(set(granted_devices))
    assert not set(granted_devices) & set(live)
    # One decision per request at most.
    decided = ([g.job_id for g in out.grants] + [f.job_id for f in out.fallbacks]
               + [r.job_id for r in out.rejections] + [p.by_job_id for p in out.preemptions])
    assert len(decided) == len(set(decided))
    for g in out.grants:  # [A1], [C1]
        r, d = requests[g.job_id], devices[g.device]
        assert not d.is_simulator and d.online and d.calibration_ok
        assert d.calibration_age_s <= config.calibration_max_age_s
        assert d.num_qubits >= r.num_qubits
        assert r.allowed_devices is None or d.name in r.allowed_devices
        assert r.compliance_domain is None or r.compliance_domain in d.compliance_domains
        assert r.retries_used <= config.retries
    victims = [p.victim_job_id for p in out.preemptions]
    assert len(victims) == len(set(victims))
    for p in out.preemptions:  # [P1], [P3..P5]
        victim, by = live[p.device], requests[p.by_job_id]
        assert victim.job_id == p.victim_job_id
        assert lease_class(victim, now, config) < by.priority_class
        assert victim.preemptible and victim.compliance_domain is None
        assert not victim.preemption_requested
        assert now - victim.started_at >= config.min_run_s
        assert victim.preemption_count < config.max_preemptions_per_job
        d = devices[p.device]
        assert by.compliance_domain is None or by.compliance_domain in d.compliance_domains
        assert d.num_qubits >= by.num_qubits
    assert not set(granted_devices) & {p.device for p in out.preemptions}
    free_at_start = {
        name for name, d in devices.items()
        if not d.is_simulator and d.online and d.calibration_ok and name not in live
        and d.calibration_age_s <= config.calibration_max_age_s
    }
    for p in out.preemptions:  # [P2] nobody preempts while a device it may use is free
        by = requests[p.by_job_id]
        usable = {
            name for name in free_at_start
            if devices[name].num_qubits >= by.num_qubits
            and (by.allowed_devices is None or name in by.allowed_devices)
            and (by.compliance_domain is None
                 or by.compliance_domain in devices[name].compliance_domains)
        }
        assert usable <= set(granted_devices)
    for f in out.fallbacks:  # [C1] on simulators, [B5]
        r = requests[f.job_id]
        assert f.simulator_kind is (r.fallback or config.fallback_default)
        assert f.simulator_kind is not FallbackMode.NONE
        if f.simulator is None:
            assert r.compliance_domain is None
        else:
            sim = devices[f.simulator]
            assert sim.is_simulator and sim.num_qubits >= r.num_qubits
            assert r.compliance_domain is None or r.compliance_domain in sim.compliance_domains


@FAST
@given(snapshots())
def test_A3_C1_P1_P3_invariants_hold_for_any_snapshot(snapshot: Snapshot) -> None:
    check_invariants(snapshot, decide(snapshot, CFG), CFG)


@FAST
@given(snapshots(), st.randoms(use_true_random=False))
def test_F3_decisions_do_not_depend_on_input_order(snapshot: Snapshot, rnd: random.Random) -> None:
    shuffled = [list(snapshot.waiting), list(snapshot.leases), list(snapshot.devices)]
    for seq in shuffled:
        rnd.shuffle(seq)
    other = Snapshot(snapshot.now, tuple(shuffled[0]), tuple(shuffled[1]), tuple(shuffled[2]),
                     dict(reversed(list(snapshot.usage.items()))))
    assert decide(other, CFG) == decide(snapshot, CFG)


@LOOP
@given(
    jobs=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3),
                            st.floats(0, 2000), st.floats(1, 400), st.booleans(),
                            st.sampled_from([None, "fedramp"])), min_size=1, max_size=25),
    n_devices=st.integers(1, 3),
)
def test_F5_every_job_eventually_starts_and_completes(jobs, n_devices) -> None:
    config = PolicyConfig(aging_rate=1 / 600.0, min_run_s=30.0, preemption_grace_s=10.0)
    devices = [dev(f"q{i}", compliance_domains=frozenset({"fedramp"}) if i == 0 else
                   frozenset()) for i in range(n_devices)]
    arrivals = [req(f"j{k:02d}", tenant, cls, at=at, work=work, preemptible=pre,
                    compliance_domain=dom, shots_total=1000)
                for k, (tenant, cls, at, work, pre, dom) in enumerate(jobs)]
    total = sum(r.work_s for r in arrivals)
    bound = 2000 + (config.max_preemptions_per_job + 1) * total + 60 * len(arrivals) + 3600
    trace = drive(arrivals, devices, config, horizon=bound, tick=60.0, keep_passes=True)
    assert set(trace.completions) == {r.job_id for r in arrivals}
    assert not trace.fallbacks and not trace.rejections
    for snapshot, out in trace.passes:
        check_invariants(snapshot, out, config)
    by_job = {r.job_id: r for r in arrivals}
    for _, victim, by in trace.preemptions:  # [P1] strictly lower class only
        assert by_job[victim].priority_class < by_job[by].priority_class
    # [F5] the documented bound on the wait before the first start.
    horizon_h, cap, top = 1 / config.aging_rate, config.max_preemptions_per_job, config.top_class
    longest = max(r.work_s for r in arrivals)  # speed == reference: duration == work
    for r in arrivals:
        eligible = 1 if r.compliance_domain else n_devices
        q = sum(1 for o in arrivals if o.submitted_at < r.submitted_at + horizon_h)
        bound = (top - r.priority_class) * horizon_h + longest * (
            1 + math.ceil(q * (1 + cap) / eligible))
        assert trace.starts[r.job_id] - r.submitted_at <= bound


@LONG
@given(sizes=st.lists(st.sampled_from([10.0, 20.0, 45.0, 90.0]), min_size=4, max_size=4),
       n_devices=st.integers(1, 3))
def test_F1_F3_equal_shares_under_saturation_split_qpu_time_evenly(sizes, n_devices) -> None:
    horizon, warmup = 8000.0, 1000.0
    config = PolicyConfig(half_life_s=1800.0)
    devices = [dev(f"q{i}") for i in range(n_devices)]
    arrivals = []
    for t, size in enumerate(sizes):  # enough backlog to stay saturated all along
        count = int(2 * horizon * n_devices / size / len(sizes)) + 5
        arrivals += [req(f"t{t}-{k:04d}", f"t{t}", 1, at=0.0, work=size) for k in range(count)]
    trace = drive(arrivals, devices, config, horizon=horizon, tick=300.0,
                  measure_from=warmup)
    held = [trace.held.get(f"t{t}", 0.0) for t in range(len(sizes))]
    mean = sum(held) / len(held)
    assert jain_index(held) >= 0.99, held
    assert all(abs(h - mean) <= 0.05 * mean for h in held), held


@FAST
@given(heavy_usage=st.floats(1000.0, 1e7), backlog=st.integers(1, 40),
       ages=st.lists(st.floats(0.0, 2000.0), min_size=40, max_size=40),
       free=st.integers(1, 3))
def test_F3_a_new_tenant_overtakes_a_heavy_tenants_backlog(heavy_usage, backlog, ages,
                                                           free) -> None:
    # Equal shares: the heavy tenant has rho 2 (F = 1/4), the newcomer rho 0 (F = 1); aging
    # adds at most 2000 / 3600 < 3/4, so every free device goes to the newcomer first.
    now = 5000.0
    waiting = [req(f"h{k:02d}", "heavy", at=now - ages[k]) for k in range(backlog)]
    waiting += [req(f"n{k}", "newcomer", at=now) for k in range(free)]
    out = decide(Snapshot(now, tuple(waiting), (), tuple(dev(f"q{i}") for i in range(free)),
                          {"heavy": TenantUsage("heavy", heavy_usage, now)}), PolicyConfig())
    assert sorted(g.job_id for g in out.grants) == [f"n{k}" for k in range(free)]


def test_F3_a_new_tenant_overtakes_a_heavy_tenants_backlog_over_time() -> None:
    config = PolicyConfig()
    heavy = [req(f"h{k:03d}", "heavy", at=0.0, work=60.0) for k in range(100)]
    newcomer = [req(f"n{k}", "newcomer", at=600.0, work=60.0) for k in range(5)]
    trace = drive(heavy + newcomer, [dev("q1"), dev("q2")], config, horizon=1200.0)
    new_starts = [trace.starts[f"n{k}"] for k in range(5)]
    assert max(new_starts) <= 600.0 + 3 * 60.0  # served at the next releases
    heavy_started_after_600 = [t for j, t in trace.starts.items() if j.startswith("h")
                               and t >= 600.0]
    assert min(heavy_started_after_600) >= min(new_starts)


def test_P1_a_top_class_lease_is_never_preempted() -> None:
    top = lease("top", "q1", cls=3, started=0.0)
    out = decide(Snapshot(1000.0, (req("u", cls=3, at=999.0),), (top,), (dev("q1"),)), CFG)
    assert out.preemptions == ()


def test_F5_a_low_class_job_starts_under_a_saturating_urgent_stream() -> None:
    # One device, urgent work arriving faster than it can be served: without aging the
    # low-class job would wait forever. With H = 600 s it reaches the top class after 3 H
    # and, being older than every urgent request there, starts at the next release.
    config = PolicyConfig(aging_rate=1 / 600.0, min_run_s=120.0, preemption_grace_s=10.0)
    stream = [req(f"u{k:03d}", "ops", 3, at=50.0 * k, work=60.0) for k in range(120)]
    low = req("low", "research", 0, at=1.0, work=300.0, shots_total=1000)
    trace = drive([low, *stream], [dev("q1")], config, horizon=6000.0)
    assert 1.0 + 3 * 600.0 <= trace.starts["low"] <= 1.0 + 3 * 600.0 + 60.0
    # Running at effective class 3, it cannot be preempted by the stream ([P1]).
    assert trace.completions["low"] == trace.starts["low"] + 300.0
    assert not any(victim == "low" for _, victim, _ in trace.preemptions)


def test_F5_a_long_job_starts_under_its_own_tenants_stream_of_short_jobs() -> None:
    # One device, one tenant: short jobs (v = at + 10 * 20) arrive faster than they are
    # served, and a long job (v = 1 + 10 * 600 = 6001) waits behind the shorter work only
    # until every request submitted before v + H has gone: the bound of [F5].
    config = PolicyConfig(aging_rate=1 / 3600.0, work_weight=10.0)
    stream = [req(f"s{k:03d}", "t", 1, at=15.0 * k, work=20.0) for k in range(900)]
    long = req("long", "t", 1, at=1.0, work=600.0, shots_total=1000)
    trace = drive([long, *stream], [dev("q1")], config, horizon=20_000.0)
    start = trace.starts["long"]
    ahead = [k for k in range(900) if 15.0 * k < long.submitted_at + 3600.0 + 10 * 600.0]
    # (c_max - c_r) H + D (1 + Q), D = 600 s, Q = requests submitted before that instant.
    assert start <= 1.0 + 2 * 3600.0 + 600.0 * (1 + len(ahead))
    # It overtakes every short job submitted after its v (6001 s) still waiting then.
    later = [trace.starts[f"s{k:03d}"] for k in range(900)
             if 15.0 * k > 6001.0 and f"s{k:03d}" in trace.starts]
    assert later and start < max(later)
