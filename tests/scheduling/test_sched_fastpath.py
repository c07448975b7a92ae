"""The shortcuts `decide` takes for speed agree with the slow definitions they replace."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from sched_helpers import dev, req, snap

from prefect_quantum.scheduling import PolicyConfig, decide
from prefect_quantum.scheduling.placement import Availability, FleetIndex

NAMES = [f"q{i}" for i in range(5)]
DOMAINS = st.sampled_from([None, "fedramp", "gdpr"])


@settings(max_examples=150, deadline=None)
@given(
    fleet=st.lists(st.tuples(
        st.sampled_from(NAMES), st.booleans(), st.sampled_from([5, 27, 127]), st.booleans(),
        st.sampled_from([0.0, 200_000.0]), st.frozensets(st.sampled_from(["fedramp", "gdpr"])),
        st.booleans()), max_size=6),
    signatures=st.lists(st.tuples(
        st.sampled_from([1, 20, 100, 300]),
        st.none() | st.frozensets(st.sampled_from([*NAMES, "elsewhere"]), max_size=3),
        DOMAINS), min_size=1, max_size=8),
)
def test_has_eligible_is_eligibility_ok(fleet, signatures) -> None:
    """[A1] `FleetIndex.has_eligible`, the scan's per-signature test, is exactly
    `eligibility(...).availability is OK`, duplicate device names included."""
    devices = [
        dev(name, online=online, num_qubits=qubits, calibration_ok=calibrated,
            calibration_age_s=age, compliance_domains=domains, is_simulator=simulator)
        for name, online, qubits, calibrated, age, domains, simulator in fleet
    ]
    config = PolicyConfig()
    for signature in signatures:
        # A fresh index per signature as well, so neither answer relies on the other's cache.
        expected = FleetIndex(devices, config).eligibility(signature).availability
        assert FleetIndex(devices, config).has_eligible(signature) is (
            expected is Availability.OK
        )


def test_F5_aged_groups_merge_and_tie_break_by_job_id_in_any_order() -> None:
    """Buckets split by aging [F5] merge into the group of a younger bucket; equal v_r is
    ordered by job_id ([F3]); the waiting order never matters."""
    config = PolicyConfig(aging_rate=1 / 100.0, strict_class=2, work_weight=0.0)
    now = 10_000.0
    waiting = [
        # Tenant a: class-1 requests aged to class 2 join a's fresh class-2 bucket.
        req("a-old-2", "a", cls=1, at=now - 150.0),
        req("a-old-1", "a", cls=1, at=now - 150.0),
        req("a-new", "a", cls=2, at=now - 10.0),
        req("a-young", "a", cls=1, at=now - 50.0),
        req("b-old", "b", cls=0, at=now - 250.0),  # aged to class 2
        req("b-new", "b", cls=2, at=now - 150.0),  # its bucket aged: class 3, first
    ]
    devices = [dev(f"d{i}") for i in range(3)]
    expected = decide(snap(now, waiting, (), devices), config)
    # Then band 2: b's head has waited longer (A = alpha * W); a's two equal heads by job_id.
    assert [g.job_id for g in expected.grants] == ["b-new", "b-old", "a-old-1"]
    rng = random.Random(5)
    for _ in range(20):
        rng.shuffle(waiting)
        assert decide(snap(now, waiting, (), devices), config) == expected
