"""Simulator fallback [B1..B7]."""

from __future__ import annotations

import math

from sched_helpers import dev, granted, lease, req, snap

from prefect_quantum.scheduling import FallbackMode, PolicyConfig, decide

CFG = PolicyConfig(preemption_grace_s=0.0)


def fell_back(out) -> dict[str, str]:
    return {f.job_id: f.reason for f in out.fallbacks}


def test_B1_falls_back_when_max_wait_has_passed() -> None:
    busy = lease("run", "q1", cls=3, work_remaining_s=10.0)
    out = decide(snap(100.0, [req("j", at=0.0, max_wait_s=100.0)], [busy], [dev("q1")]), CFG)
    assert "[B1]" in fell_back(out)["j"]


def test_B1_falls_back_early_when_no_device_can_free_in_time() -> None:
    busy = lease("run", "q1", cls=3, work_remaining_s=5000.0)
    out = decide(snap(10.0, [req("j", at=0.0, max_wait_s=600.0)], [busy], [dev("q1")]), CFG)
    assert "earliest estimated start" in fell_back(out)["j"]


def test_B1_keeps_waiting_when_a_device_frees_in_time() -> None:
    busy = lease("run", "q1", cls=3, work_remaining_s=100.0)
    out = decide(snap(10.0, [req("j", at=0.0, max_wait_s=600.0)], [busy], [dev("q1")]), CFG)
    assert out.fallbacks == ()


def test_B1_an_overdue_request_still_starts_when_a_device_is_free() -> None:
    out = decide(snap(1000.0, [req("j", at=0.0, max_wait_s=10.0)], devices=[dev("q1")]), CFG)
    assert granted(out) == {"j": "q1"} and out.fallbacks == ()


def test_B1_deadline_minus_remaining_work_bounds_the_start() -> None:
    r = req("j", at=0.0, work=100.0, deadline=500.0, shots_total=10, shots_done=5)
    assert r.latest_start == 450.0
    busy = lease("run", "q1", cls=3, work_remaining_s=10.0)
    out = decide(snap(450.0, [r], [busy], [dev("q1")]), CFG)
    assert "[B1]" in fell_back(out)["j"]


def test_B2_falls_back_when_every_eligible_device_is_offline() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("q1", online=False)]), CFG)
    assert "[B2]" in fell_back(out)["j"]


def test_B3_falls_back_when_calibration_is_stale_beyond_the_bound() -> None:
    stale = dev("q1", calibration_age_s=CFG.calibration_max_age_s + 1.0)
    out = decide(snap(0.0, [req("j")], devices=[stale]), CFG)
    assert "[B3]" in fell_back(out)["j"]


def test_B4_falls_back_when_retries_are_exhausted() -> None:
    out = decide(snap(0.0, [req("j", retries_used=CFG.retries + 1)], devices=[dev("q1")]), CFG)
    assert "[B4]" in fell_back(out)["j"] and out.grants == ()
    out = decide(snap(0.0, [req("j", retries_used=CFG.retries)], devices=[dev("q1")]), CFG)
    assert granted(out) == {"j": "q1"}


def test_B5_request_mode_overrides_the_configured_default() -> None:
    out = decide(snap(0.0, [req("a"), req("b", fallback=FallbackMode.IDEAL)],
                      devices=[dev("q1", online=False)]), CFG)
    assert {f.job_id: f.simulator_kind for f in out.fallbacks} == {
        "a": FallbackMode.NOISY, "b": FallbackMode.IDEAL}
    ideal = PolicyConfig(fallback_default=FallbackMode.IDEAL)
    out = decide(snap(0.0, [req("a")], devices=[dev("q1", online=False)]), ideal)
    assert out.fallbacks[0].simulator_kind is FallbackMode.IDEAL


def test_B5_mode_none_waits_on_transient_causes_and_rejects_on_permanent_ones() -> None:
    never = FallbackMode.NONE
    out = decide(snap(0.0, [req("off", fallback=never)], devices=[dev("q1", online=False)]),
                 CFG)
    assert out.fallbacks == () and out.rejections == ()
    out = decide(snap(0.0, [req("wide", fallback=never, num_qubits=500)], devices=[dev("q1")]),
                 CFG)
    assert [r.job_id for r in out.rejections] == ["wide"]
    busy = lease("run", "q1", cls=3, work_remaining_s=math.inf)
    out = decide(snap(99.0, [req("late", fallback=never, max_wait_s=1.0)], [busy],
                      [dev("q1")]), CFG)
    assert out.fallbacks == () and out.rejections == ()


def test_B5_unrestricted_job_uses_the_default_simulator_when_none_is_listed() -> None:
    out = decide(snap(0.0, [req("j")], devices=[dev("q1", online=False)]), CFG)
    assert out.fallbacks[0].simulator is None


def test_B5_listed_simulators_are_picked_by_name_and_need_enough_qubits() -> None:
    devices = [dev("q1", online=False), dev("sim-b", is_simulator=True),
               dev("sim-a", is_simulator=True, num_qubits=3)]
    out = decide(snap(0.0, [req("j")], devices=devices), CFG)
    assert out.fallbacks[0].simulator == "sim-b"


def test_B7_a_job_no_qpu_can_ever_serve_falls_back_at_once() -> None:
    devices = [dev("q1", num_qubits=27), dev("sim", is_simulator=True, num_qubits=200)]
    out = decide(snap(0.0, [req("wide", num_qubits=100)], devices=devices), CFG)
    assert fell_back(out)["wide"].startswith("[B7]")
