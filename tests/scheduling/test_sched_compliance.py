"""Compliance [C1], [C2]: a hard filter on QPUs and on fallback simulators."""

from __future__ import annotations

from sched_helpers import REF, dev, granted, req, snap

from prefect_quantum.scheduling import FallbackMode, PolicyConfig, decide

CFG = PolicyConfig()
FED = frozenset({"fedramp"})


def test_C1_restricted_job_runs_only_on_an_authorized_device() -> None:
    devices = [dev("fast-open", speed=REF * 10, est_fidelity=0.99),
               dev("slow-fed", speed=REF / 10, est_fidelity=0.5, compliance_domains=FED)]
    out = decide(snap(0.0, [req("fed", compliance_domain="fedramp")], devices=devices), CFG)
    assert granted(out) == {"fed": "slow-fed"}


def test_C1_unrestricted_job_may_use_an_authorized_device() -> None:
    out = decide(snap(0.0, [req("open")], devices=[dev("fed", compliance_domains=FED)]), CFG)
    assert granted(out) == {"open": "fed"}


def test_C1_restricted_job_waits_rather_than_use_an_unauthorized_free_device() -> None:
    from sched_helpers import lease

    devices = [dev("open"), dev("fed", compliance_domains=FED)]
    out = decide(snap(10.0, [req("fed-job", compliance_domain="fedramp")],
                      [lease("run", "fed", cls=3)], devices), CFG)
    assert out.grants == () and out.fallbacks == ()


def test_C1_fallback_only_to_a_simulator_authorized_for_the_domain() -> None:
    devices = [dev("open"), dev("sim-open", is_simulator=True),
               dev("sim-fed", is_simulator=True, compliance_domains=FED)]
    out = decide(snap(0.0, [req("fed", compliance_domain="fedramp")], devices=devices), CFG)
    (fb,) = out.fallbacks
    assert (fb.job_id, fb.simulator, fb.simulator_kind) == ("fed", "sim-fed", FallbackMode.NOISY)
    assert "[B7]" in fb.reason


def test_C2_rejected_without_an_authorized_device_or_simulator() -> None:
    devices = [dev("open"), dev("sim-open", is_simulator=True)]
    out = decide(snap(0.0, [req("fed", compliance_domain="fedramp")], devices=devices), CFG)
    assert out.grants == () and out.fallbacks == ()
    (rej,) = out.rejections
    assert rej.job_id == "fed" and "[C2]" in rej.reason and "fedramp" in rej.reason


def test_C2_restricted_job_never_uses_the_default_local_simulator() -> None:
    out = decide(snap(0.0, [req("fed", compliance_domain="fedramp")], devices=[dev("o")]), CFG)
    assert [r.job_id for r in out.rejections] == ["fed"] and out.fallbacks == ()
