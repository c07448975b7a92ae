"""Priority classes and preemption [P1..P7]."""

from __future__ import annotations

from sched_helpers import dev, granted, lease, req, snap

from prefect_quantum.scheduling import PolicyConfig, decide

CFG = PolicyConfig(min_run_s=100.0, preemption_grace_s=60.0, max_preemptions_per_job=2)
NOW = 1000.0


def preempted(waiting, leases, devices=None, config=CFG, usage=None):
    out = decide(snap(NOW, waiting, leases, devices or [dev("q1")], usage), config)
    return [(p.victim_job_id, p.by_job_id) for p in out.preemptions], out


def test_P1_strictly_higher_class_preempts() -> None:
    pairs, _ = preempted([req("urgent", cls=3, at=NOW)], [lease("low", "q1", cls=0)])
    assert pairs == [("low", "urgent")]


def test_P1_a_running_job_keeps_its_aged_class() -> None:
    # Submitted 2 H ago at class 0: it runs at effective class 2, so only class 3 outranks
    # it; a class-2 preemptor would lose the device back to it on the release pass.
    cfg = PolicyConfig(min_run_s=0.0, aging_rate=1 / 100.0)
    aged = lease("aged", "q1", cls=0, started=NOW - 10.0, submitted_at=NOW - 200.0)
    pairs, _ = preempted([req("high", cls=2, at=NOW)], [aged], config=cfg)
    assert pairs == []
    pairs, _ = preempted([req("urgent", cls=3, at=NOW)], [aged], config=cfg)
    assert pairs == [("aged", "urgent")]


def test_P1_equal_class_never_preempts() -> None:
    pairs, _ = preempted([req("same", cls=1, at=0.0)], [lease("run", "q1", cls=1)])
    assert pairs == []


def test_P2_waits_when_a_device_frees_within_grace() -> None:
    pairs, out = preempted([req("urgent", cls=3, at=NOW)],
                           [lease("low", "q1", cls=0, work_remaining_s=30.0)])
    assert pairs == [] and out.grants == ()


def test_P2_a_soon_free_device_claimed_by_a_higher_rank_does_not_stop_preemption() -> None:
    leases = [lease("ending", "q1", cls=0, work_remaining_s=30.0), lease("long", "q2", cls=0)]
    pairs, _ = preempted([req("u1", cls=3, at=NOW - 2), req("u2", cls=3, at=NOW - 1)], leases,
                         devices=[dev("q1"), dev("q2")])
    assert pairs == [("long", "u2")]


def test_P2_a_pending_preemption_counts_as_freeing_soon() -> None:
    pairs, _ = preempted([req("urgent", cls=3, at=NOW)],
                         [lease("low", "q1", cls=0, preemption_requested=True)])
    assert pairs == []


def test_P3_never_preempts_non_preemptible() -> None:
    pairs, _ = preempted([req("urgent", cls=3)], [lease("pinned", "q1", preemptible=False)])
    assert pairs == []


def test_P3_never_preempts_compliance_restricted() -> None:
    devices = [dev("q1", compliance_domains=frozenset({"fedramp"}))]
    pairs, _ = preempted([req("urgent", cls=3)],
                         [lease("fed", "q1", compliance_domain="fedramp")], devices)
    assert pairs == []


def test_P4_minimum_run_time_protects_a_new_lease() -> None:
    pairs, _ = preempted([req("urgent", cls=3)], [lease("new", "q1", started=NOW - 99.0)])
    assert pairs == []
    pairs, _ = preempted([req("urgent", cls=3)], [lease("new", "q1", started=NOW - 100.0)])
    assert pairs == [("new", "urgent")]


def test_P5_a_job_preempted_max_times_is_no_longer_a_victim() -> None:
    pairs, _ = preempted([req("urgent", cls=3)], [lease("x", "q1", preemption_count=2)])
    assert pairs == []
    pairs, _ = preempted([req("urgent", cls=3)], [lease("x", "q1", preemption_count=1)])
    assert pairs == [("x", "urgent")]


def test_P6_victim_is_the_lowest_class_first() -> None:
    leases = [lease("normal", "q1", cls=1), lease("low", "q2", cls=0)]
    pairs, _ = preempted([req("urgent", cls=3)], leases, [dev("q1"), dev("q2")])
    assert pairs == [("low", "urgent")]


def test_P6_then_the_tenant_most_over_its_share() -> None:
    leases = [lease("modest", "q1", tenant="modest"), lease("greedy", "q2", tenant="greedy")]
    pairs, _ = preempted([req("urgent", "u", cls=3)], leases, [dev("q1"), dev("q2")],
                         usage={"greedy": 1e5, "modest": 10.0})
    assert pairs == [("greedy", "urgent")]


def test_P6_then_the_least_work_lost() -> None:
    leases = [lease("a", "q1", tenant="x", work_done_s=500.0, checkpointed_s=100.0),
              lease("b", "q2", tenant="y", work_done_s=900.0, checkpointed_s=850.0)]
    pairs, _ = preempted([req("urgent", "u", cls=3)], leases, [dev("q1"), dev("q2")])
    assert pairs == [("b", "urgent")]


def test_P6_only_victims_on_devices_the_preemptor_may_use() -> None:
    devices = [dev("q1", num_qubits=5), dev("q2")]
    leases = [lease("low-small", "q1", cls=0), lease("normal-big", "q2", cls=1)]
    pairs, _ = preempted([req("urgent", cls=3, num_qubits=50)], leases, devices)
    assert pairs == [("normal-big", "urgent")]


def test_P7_preemption_says_by_whom_since_when_why_and_does_not_grant_yet() -> None:
    _, out = preempted([req("urgent", cls=3)], [lease("low", "q1", started=123.0)])
    (p,) = out.preemptions
    assert (p.victim_job_id, p.by_job_id, p.device, p.usage_since) == (
        "low", "urgent", "q1", 123.0)
    assert "[P1]" in p.reason and out.grants == ()


def test_P7_one_victim_per_preemptor_and_one_preemptor_per_device() -> None:
    leases = [lease("l1", "q1"), lease("l2", "q2")]
    waiting = [req(f"u{i}", cls=3, at=float(i)) for i in range(4)]
    pairs, _ = preempted(waiting, leases, [dev("q1"), dev("q2")])
    # u0 ranks first and takes the victim with the smaller job id; u2, u3 find none left.
    assert pairs == [("l1", "u0"), ("l2", "u1")]


def test_P7_the_preemptor_gets_the_device_on_the_release_pass() -> None:
    waiting = [req("urgent", cls=3, at=NOW), req("older-low", cls=0, at=0.0)]
    out = decide(snap(NOW, waiting, devices=[dev("q1")]), CFG)
    assert granted(out) == {"urgent": "q1"}


def test_P8_a_shared_class_never_preempts() -> None:
    # normal (1) is below strict_class (2): it waits instead of preempting a low lease.
    pairs, out = preempted([req("normal", cls=1, at=NOW)], [lease("low", "q1", cls=0)])
    assert pairs == [] and out.grants == ()
    # A strict class still preempts the same lease ([P1]).
    pairs, _ = preempted([req("high", cls=2, at=NOW)], [lease("low", "q1", cls=0)])
    assert pairs == [("low", "high")]
    # With every class strict, normal preempts low as before.
    every = PolicyConfig(min_run_s=100.0, preemption_grace_s=60.0, strict_class=0)
    pairs, _ = preempted([req("normal", cls=1, at=NOW)], [lease("low", "q1", cls=0)],
                         config=every)
    assert pairs == [("low", "normal")]
