"""Placement rules [A1..A4]: which device a granted job gets."""

from __future__ import annotations

import pytest
from sched_helpers import REF, dev, granted, lease, req, snap

from prefect_quantum.scheduling import PolicyConfig, decide, placement_cost

CFG = PolicyConfig()


def test_A1_device_with_stale_or_failed_calibration_is_not_granted() -> None:
    devices = [dev("stale", calibration_age_s=CFG.calibration_max_age_s + 1),
               dev("failed", calibration_ok=False), dev("fresh", speed=REF / 10)]
    assert granted(decide(snap(0.0, [req("j")], devices=devices), CFG)) == {"j": "fresh"}


def test_A1_qubits_and_allowed_devices_are_respected() -> None:
    devices = [dev("small", num_qubits=5, speed=REF * 10), dev("big", num_qubits=127),
               dev("other", num_qubits=127, speed=REF * 5)]
    out = decide(snap(0.0, [req("wide", num_qubits=20), req(
        "pinned", allowed_devices=frozenset({"small"}), at=1.0)], devices=devices), CFG)
    assert granted(out) == {"wide": "other", "pinned": "small"}


def test_A1_offline_device_is_not_granted() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("off", online=False), dev("on")]), CFG)
    assert granted(out) == {"j": "on"}


def test_A2_prefers_the_faster_device_at_equal_fidelity() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("slow", speed=REF), dev(
        "fast", speed=REF * 4)]), CFG)
    assert granted(out) == {"j": "fast"}
    assert out.grants[0].est_duration_s == pytest.approx(10.0 / 4)


def test_A2_prefers_higher_fidelity_at_equal_speed() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("noisy", est_fidelity=0.5), dev(
        "clean", est_fidelity=0.9)]), CFG)
    assert granted(out) == {"j": "clean"}


@pytest.mark.parametrize(("w_time", "w_fid", "expected"), [
    (1.0, 0.0, "fast-noisy"), (0.0, 1.0, "slow-clean"), (1.0, 1.0, "fast-noisy"),
    (1.0, 5.0, "slow-clean")])
def test_A2_weights_trade_completion_time_against_fidelity(w_time, w_fid, expected) -> None:
    cfg = PolicyConfig(weight_time=w_time, weight_fidelity=w_fid)
    devices = [dev("fast-noisy", speed=REF * 2, est_fidelity=0.6),
               dev("slow-clean", speed=REF, est_fidelity=0.9)]
    assert granted(decide(snap(0.0, [req("j")], devices=devices), cfg)) == {"j": expected}
    costs = {d.name: placement_cost(10.0 * REF / d.speed, d.est_fidelity, cfg)
             for d in devices}
    assert min(costs, key=lambda n: (costs[n], n)) == expected


def test_A2_ties_broken_by_device_name() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("q2"), dev("q1")]), CFG)
    assert granted(out) == {"j": "q1"}


def test_A3_a_busy_device_is_not_granted_and_one_job_per_device_per_pass() -> None:
    out = decide(snap(10.0, [req("a"), req("b", at=1.0)], [lease("run", "q1", cls=3)],
                      [dev("q1"), dev("q2")]), CFG)
    assert granted(out) == {"a": "q2"}


def test_A4_backfill_takes_a_device_the_head_cannot_use() -> None:
    # The oldest request needs 100 qubits; only the small device is free.
    devices = [dev("big", num_qubits=127), dev("small", num_qubits=20)]
    out = decide(snap(10.0, [req("wide", num_qubits=100, at=0.0), req("narrow", at=5.0)],
                      [lease("run", "big", cls=3)], devices), CFG)
    assert granted(out) == {"narrow": "small"}


def test_A4_a_request_is_never_passed_over_for_a_device_it_could_use() -> None:
    devices = [dev("big", num_qubits=127), dev("small", num_qubits=20)]
    out = decide(snap(10.0, [req("wide", num_qubits=100, at=0.0), req("narrow", at=5.0)],
                      devices=devices), CFG)
    assert granted(out) == {"wide": "big", "narrow": "small"}
