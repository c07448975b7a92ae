"""Leases and sessions [L1..L5]."""

from __future__ import annotations

from sched_helpers import dev, granted, lease, req, snap

from prefect_quantum.scheduling import PolicyConfig, decide, expiry_reason, is_lease_expired

CFG = PolicyConfig(session_max_s=3600.0, session_idle_timeout_s=300.0, min_run_s=0.0)


def test_L1_a_lease_expires_at_its_heartbeat_deadline() -> None:
    held = lease("j", "q1", expires_at=100.0)
    assert not is_lease_expired(held, 99.9)
    assert is_lease_expired(held, 100.0)


def test_L1_L3_an_expired_lease_is_reported_and_its_device_granted_in_the_same_pass() -> None:
    out = decide(snap(100.0, [req("next", at=50.0)], [lease("dead", "q1", expires_at=100.0)],
                      [dev("q1")]), CFG)
    assert [(e.job_id, e.device) for e in out.expirations] == [("dead", "q1")]
    assert "[L1]" in out.expirations[0].reason
    assert granted(out) == {"next": "q1"}


def test_L2_a_session_expires_at_its_maximum_duration() -> None:
    session = lease("s", "q1", is_session=True, started=0.0)
    assert expiry_reason(session, 3599.0, CFG) is None
    assert "session_max_s" in (expiry_reason(session, 3600.0, CFG) or "")


def test_L2_an_idle_session_expires_after_the_idle_timeout() -> None:
    session = lease("s", "q1", is_session=True, started=0.0, idle_since=1000.0)
    assert expiry_reason(session, 1299.0, CFG) is None
    assert "idle" in (expiry_reason(session, 1300.0, CFG) or "")
    busy = lease("s", "q1", is_session=True, started=0.0, idle_since=None)
    assert expiry_reason(busy, 3000.0, CFG) is None


def test_L3_a_requeued_job_keeps_its_age_and_goes_before_newer_work() -> None:
    # The store re-queues with the original submitted_at and checkpointed shots.
    requeued = req("back", at=0.0, shots_total=100, shots_done=60, work=100.0)
    out = decide(snap(500.0, [req("new", at=400.0), requeued], devices=[dev("q1")]), CFG)
    assert granted(out) == {"back": "q1"}
    assert out.grants[0].est_duration_s == 40.0  # only the remaining shots


def test_L4_a_session_is_preemptible_between_iterations_like_any_lease() -> None:
    session = lease("loop", "q1", cls=0, is_session=True, started=0.0)
    out = decide(snap(100.0, [req("urgent", cls=3, at=100.0)], [session], [dev("q1")]), CFG)
    assert [(p.victim_job_id, p.by_job_id) for p in out.preemptions] == [("loop", "urgent")]


def test_L4_session_holding_time_is_charged_to_its_tenant() -> None:
    session = lease("loop", "q2", tenant="loopy", cls=3, is_session=True, started=0.0,
                    idle_since=900.0)
    out = decide(snap(1000.0, [req("a", "loopy", at=0.0), req("b", "other", at=500.0)],
                      [session], [dev("q1"), dev("q2")]), CFG)
    assert granted(out) == {"b": "q1"}


def test_L5_a_released_device_goes_to_the_best_ranked_waiting_request() -> None:
    waiting = [req("low-old", cls=0, at=0.0), req("high-new", cls=2, at=90.0)]
    assert granted(decide(snap(100.0, waiting, devices=[dev("q1")]), CFG)) == {
        "high-new": "q1"}
