"""Fair-share rules [F1..F6]: who goes first when devices free up."""

from __future__ import annotations

import math

import pytest
from sched_helpers import dev, granted, lease, req, snap

from prefect_quantum.scheduling import (
    PolicyConfig,
    Snapshot,
    TenantUsage,
    decayed_usage,
    decide,
    fair_share_deficit,
    fair_share_factor,
    jain_index,
    usage_ratio,
)

CFG = PolicyConfig(aging_rate=1e-6)  # aging negligible unless a test is about it


def one_free_device_winner(waiting, usage=None, config=CFG, now=100.0, leases=(),
                           devices=None):
    out = decide(snap(now, waiting, leases, devices or [dev("q1")], usage), config)
    assert len(out.grants) == 1
    return out.grants[0].job_id


def test_F1_decayed_usage_halves_every_half_life() -> None:
    assert decayed_usage(800.0, 0.0, 3600.0, 0.0, 3600.0) == pytest.approx(400.0)
    assert decayed_usage(800.0, 0.0, 7200.0, 50.0, 3600.0) == pytest.approx(250.0)
    assert decayed_usage(800.0, 10.0, 5.0, 0.0, 3600.0) == 800.0  # no growth backwards


def test_F1_usage_decays_so_an_old_burst_is_forgiven() -> None:
    # "old" used 1000 s two days ago, "recent" 300 s just now; half-life one hour.
    cfg = PolicyConfig(aging_rate=1e-6, half_life_s=3600.0)
    now = 172_800.0
    out = decide(Snapshot(
        now=now, waiting=(req("a", "old", at=0.0), req("b", "recent", at=0.0)),
        devices=(dev("q1"),),
        usage={"old": TenantUsage("old", 1000.0, 0.0),
               "recent": TenantUsage("recent", 300.0, now)}), cfg)
    assert granted(out) == {"a": "q1"}


def test_F1_in_flight_lease_time_counts_as_usage() -> None:
    busy = lease("run", "q2", tenant="heavy", cls=3, started=0.0)
    winner = one_free_device_winner(
        [req("h", "heavy", at=0.0), req("n", "newcomer", at=50.0)],
        leases=[busy], devices=[dev("q1"), dev("q2")], now=1000.0)
    assert winner == "n"


def test_F2_unknown_tenant_gets_default_share() -> None:
    cfg = PolicyConfig(shares={"big": 3.0}, default_share=1.0, aging_rate=1e-6)
    assert cfg.share_of("big") == 3.0 and cfg.share_of("stranger") == 1.0
    # Equal usage: the tenant with three times the share is further below it.
    winner = one_free_device_winner(
        [req("s", "stranger", at=0.0), req("b", "big", at=10.0)],
        usage={"stranger": 100.0, "big": 100.0}, config=cfg)
    assert winner == "b"


def test_F3_tenant_furthest_below_share_goes_first() -> None:
    winner = one_free_device_winner(
        [req("old-heavy", "heavy", at=0.0), req("young-light", "light", at=90.0)],
        usage={"heavy": 5000.0, "light": 10.0})
    assert winner == "young-light"


def test_F3_within_a_tenant_oldest_first() -> None:
    waiting = [req(f"j{i}", "t", at=float(10 - i)) for i in range(5)]
    assert one_free_device_winner(waiting) == "j4"


def test_F3_higher_class_before_fair_share() -> None:
    winner = one_free_device_winner(
        [req("light", "light", cls=1, at=0.0), req("heavy-high", "heavy", cls=2, at=50.0)],
        usage={"heavy": 1e6})
    assert winner == "heavy-high"


def test_F3_shared_band_orders_tenants_by_fair_share_across_classes() -> None:
    # low (0) and normal (1) share one band: the tenant below its share goes first even
    # with a low job, and however long the other's normal job has waited.
    waiting = [req("light-low", "light", cls=0, at=99.0),
               req("heavy-normal", "heavy", cls=1, at=0.0)]
    usage = {"heavy": 5000.0, "light": 10.0}
    assert one_free_device_winner(waiting, usage=usage) == "light-low"
    aged = PolicyConfig()  # default aging: 99 s is far below H, no promotion yet
    assert one_free_device_winner(waiting, usage=usage, config=aged) == "light-low"
    # With every class strict, the higher class goes first as before.
    strict = PolicyConfig(aging_rate=1e-6, strict_class=0)
    assert one_free_device_winner(waiting, usage=usage, config=strict) == "heavy-normal"


def test_F3_within_a_tenant_class_first_in_the_shared_band() -> None:
    waiting = [req("low-short", "t", cls=0, at=0.0, work=1.0),
               req("normal-long", "t", cls=1, at=50.0, work=500.0)]
    assert one_free_device_winner(waiting) == "normal-long"


def test_F3_within_a_tenant_shorter_work_first_aged() -> None:
    # v = submitted_at + work_weight * work: the 10 s job (v = 150) beats the 100 s job
    # (v = 1000) submitted 50 s earlier ...
    cfg = PolicyConfig(aging_rate=1e-6, work_weight=10.0)
    long_old = req("long", "t", at=0.0, work=100.0)
    assert one_free_device_winner([long_old, req("short", "t", at=50.0, work=10.0)],
                                  config=cfg, now=1000.0) == "short"
    # ... but not one submitted after the long job's v (1000 s): that is the bound.
    assert one_free_device_winner([long_old, req("late", "t", at=950.0, work=10.0)],
                                  config=cfg, now=1000.0) == "long"
    # work_weight 0: oldest first.
    assert one_free_device_winner([long_old, req("short", "t", at=50.0, work=10.0)],
                                  config=PolicyConfig(aging_rate=1e-6, work_weight=0.0),
                                  now=1000.0) == "long"
    # Remaining work counts: a checkpointed long job is short now.
    half = req("half", "t", at=40.0, work=100.0, shots_done=95, shots_total=100)
    assert one_free_device_winner([half, req("short", "t", at=50.0, work=10.0)],
                                  config=cfg, now=1000.0) == "half"


def test_F3_strict_band_ages_across_tenants_by_real_wait() -> None:
    # In a strict band the age term uses the head's real wait, not v: a tenant whose jobs
    # are long is not handicapped against one whose jobs are short.
    cfg = PolicyConfig(aging_rate=1 / 100.0, work_weight=10.0)
    waiting = [req("long-old", "a", cls=2, at=0.0, work=900.0),
               req("short-new", "b", cls=2, at=90.0, work=1.0)]
    assert one_free_device_winner(waiting, config=cfg, now=95.0) == "long-old"


def test_F3_equal_keys_broken_by_job_id() -> None:
    waiting = [req("b", "x", at=0.0), req("a", "y", at=0.0)]
    assert one_free_device_winner(waiting) == "a"


def test_F4_one_pass_spreads_free_devices_over_tenants() -> None:
    waiting = [req(f"a{i}", "a", at=float(i)) for i in range(4)] + [
        req(f"b{i}", "b", at=10.0 + i) for i in range(4)]
    out = decide(snap(100.0, waiting, devices=[dev("q1"), dev("q2")]), CFG)
    assert sorted(g.job_id for g in out.grants) == ["a0", "b0"]


def test_F5_aging_promotes_one_class_per_horizon() -> None:
    cfg = PolicyConfig(aging_rate=1 / 100.0)  # H = 100 s
    old_low = req("old-low", "t1", cls=0, at=0.0)
    fresh_high = req("fresh-high", "t2", cls=2, at=299.0)
    # At 299 s old-low has waited 2.99 H: promoted to class 2, and older.
    assert one_free_device_winner([old_low, fresh_high], config=cfg, now=299.0) == "old-low"
    # At 150 s it is only class 1: the class-2 request goes first.
    fresh_high = req("fresh-high", "t2", cls=2, at=149.0)
    assert one_free_device_winner([old_low, fresh_high], config=cfg, now=150.0) == "fresh-high"


def test_F5_within_a_class_a_request_older_by_one_horizon_beats_any_share() -> None:
    cfg = PolicyConfig(aging_rate=1 / 100.0, priority_classes={"only": 0})
    heavy_old = req("heavy-old", "heavy", cls=0, at=0.0)
    light_new = req("light-new", "light", cls=0, at=101.0)
    assert one_free_device_winner([heavy_old, light_new], usage={"heavy": 1e9},
                                  config=cfg, now=101.0) == "heavy-old"


def test_F6_aged_request_does_not_preempt() -> None:
    cfg = PolicyConfig(aging_rate=1 / 100.0, min_run_s=0.0)
    running = lease("run", "q1", cls=1, started=0.0)
    out = decide(snap(10_000.0, [req("aged", cls=0, at=0.0)], [running], [dev("q1")]), cfg)
    assert out.preemptions == ()


def test_fair_share_deficit_and_factor() -> None:
    # 30% of usage against a 50% share: 40% below share.
    assert usage_ratio(30.0, 1.0, 100.0, 2.0) == pytest.approx(0.6)
    assert fair_share_deficit(30.0, 1.0, 100.0, 2.0) == pytest.approx(0.4)
    assert fair_share_deficit(0.0, 1.0, 0.0, 2.0) == 1.0
    assert fair_share_factor(0.0) == 1.0 and fair_share_factor(2.0) == 0.25


def test_jain_index() -> None:
    assert jain_index([5.0, 5.0, 5.0]) == 1.0
    assert jain_index([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)
    assert jain_index([]) == 1.0
    assert math.isclose(jain_index([1.0, 2.0]), 9 / 10)
    with pytest.raises(ValueError):
        jain_index([-1.0])
