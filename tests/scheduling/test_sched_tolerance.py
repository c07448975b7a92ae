"""[F7] the opt-in tolerance band: within (1 + tau) of the least-served waiting tenant,
tenants of the shared band compete by aged weighted shortest work (Smith's rule)."""

from __future__ import annotations

import pytest
from sched_helpers import dev, granted, req, snap

from prefect_quantum.scheduling import PolicyConfig, decide

BAND = PolicyConfig(aging_rate=1e-6, fair_tolerance=0.5)
STRICT_FS = PolicyConfig(aging_rate=1e-6)  # tau = 0: [F3]


def winner(waiting, usage, config, devices=("q1",), now=100.0) -> set[str]:
    out = decide(snap(now, waiting, (), [dev(d) for d in devices], usage), config)
    return set(granted(out))


def test_F7_inside_the_band_shorter_work_beats_lower_usage() -> None:
    waiting = [req("a-long", "a", at=0.0, work=500.0), req("b-short", "b", at=0.0, work=10.0)]
    usage = {"a": 100.0, "b": 120.0}  # b within 1.5x of a
    assert winner(waiting, usage, BAND) == {"b-short"}
    assert winner(waiting, usage, STRICT_FS) == {"a-long"}  # tau = 0: least usage first


def test_F7_outside_the_band_fair_share_decides() -> None:
    waiting = [req("a-long", "a", at=0.0, work=500.0), req("b-short", "b", at=0.0, work=10.0)]
    assert winner(waiting, {"a": 100.0, "b": 160.0}, BAND) == {"a-long"}


def test_F7_class_weighs_like_smiths_rule() -> None:
    # v = submitted_at + kappa * R / (1 + c - c_min): a normal job (weight 2) of 150 s
    # (v = 750) beats a low job (weight 1) of 100 s (v = 1000), not one of 50 s (v = 500).
    normal = req("normal-150", "a", cls=1, at=0.0, work=150.0)
    assert winner([normal, req("low-100", "b", cls=0, at=0.0, work=100.0)],
                  {"a": 100.0, "b": 100.0}, BAND) == {"normal-150"}
    assert winner([normal, req("low-50", "b", cls=0, at=0.0, work=50.0)],
                  {"a": 100.0, "b": 100.0}, BAND) == {"low-50"}
    # Without the band the class goes first within a tenant ([F3]).
    assert winner([normal, req("low-50", "a", cls=0, at=0.0, work=50.0)],
                  {"a": 100.0}, STRICT_FS) == {"normal-150"}


def test_F7_the_floor_moves_within_a_pass_and_every_key_follows() -> None:
    # a is the least served; b and c start outside the band (floor 1.2 * 100 = 120). The
    # first grant charges a 1,000 s, the floor becomes 1.2 * 130 = 156, and b and c now
    # compete inside the band: b's short job beats c's long one although c used less.
    config = PolicyConfig(aging_rate=1e-6, fair_tolerance=0.2)
    waiting = [req("a-long", "a", at=0.0, work=1000.0), req("b-short", "b", at=0.0, work=10.0),
               req("c-long", "c", at=0.0, work=500.0)]
    usage = {"a": 100.0, "b": 150.0, "c": 130.0}
    assert winner(waiting, usage, config, devices=("q1", "q2")) == {"a-long", "b-short"}
    assert winner(waiting, usage, STRICT_FS, devices=("q1", "q2")) == {"a-long", "c-long"}


@pytest.mark.parametrize("tolerance", [0.0, 0.25, 1.0])
def test_F7_saturated_equal_shares_stay_within_the_band(tolerance: float) -> None:
    # One device, three equal-share tenants always backlogged: every pass grants the next
    # job; no tenant's usage ever exceeds (1 + tau) times the least one's plus one job.
    config = PolicyConfig(aging_rate=1e-6, fair_tolerance=tolerance, half_life_s=1e9)
    usage = {"a": 0.0, "b": 0.0, "c": 0.0}
    sizes = {"a": 10.0, "b": 40.0, "c": 90.0}
    now = 0.0
    for step in range(300):
        waiting = [req(f"{t}-{step}-{k}", t, at=0.0, work=sizes[t]) for t in usage
                   for k in range(2)]
        (job,) = winner(waiting, usage, config, now=now)
        tenant = job.split("-")[0]
        usage[tenant] += sizes[tenant]
        now += sizes[tenant]
        if step >= 10:
            assert max(usage.values()) <= (1 + tolerance) * min(usage.values()) + 90.0
