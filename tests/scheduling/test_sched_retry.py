"""Retries [R1..R4]: transient errors only, a capped budget, capped jittered backoff."""

from __future__ import annotations

import math

import pytest

from prefect_quantum.errors import DeviceOfflineError, InvalidInputError, StoreBusyError
from prefect_quantum.scheduling import (
    PolicyConfig,
    base_delay,
    retries_exhausted,
    retry_delay,
    retry_delays,
    should_retry,
)

CFG = PolicyConfig(retries=4, retry_base_s=2.0, retry_factor=3.0, retry_cap_s=30.0,
                   retry_jitter=0.5)


def test_R1_only_transient_errors_are_retried() -> None:
    assert should_retry(DeviceOfflineError("q1 down"), 0, CFG)
    assert should_retry(StoreBusyError("locked"), 0, CFG)
    assert not should_retry(InvalidInputError("shots", "must be > 0"), 0, CFG)
    assert not should_retry(RuntimeError("unknown"), 0, CFG)


def test_R2_the_budget_is_capped() -> None:
    assert should_retry(DeviceOfflineError("x"), 3, CFG)
    assert not should_retry(DeviceOfflineError("x"), 4, CFG)
    assert not retries_exhausted(4, CFG) and retries_exhausted(5, CFG)


def test_R3_backoff_is_exponential_and_capped() -> None:
    assert [base_delay(k, CFG) for k in range(1, 6)] == [2.0, 6.0, 18.0, 30.0, 30.0]
    assert base_delay(10_000, CFG) == 30.0
    with pytest.raises(ValueError, match="attempt"):
        base_delay(0, CFG)


def test_R3_no_jitter_gives_exactly_the_base_delay() -> None:
    cfg = PolicyConfig(retry_jitter=0.0)
    assert retry_delay(2, cfg, 0.99) == base_delay(2, cfg)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_R3_jitter_stays_within_bounds_and_is_monotone_in_the_random_value(attempt) -> None:
    d = base_delay(attempt, CFG)
    samples = [retry_delay(attempt, CFG, v / 100) for v in range(100)]
    assert samples == sorted(samples)
    assert all(0 <= s <= d * (1 + CFG.retry_jitter) + 1e-9 for s in samples)
    assert math.isclose(sum(samples) / len(samples), d, rel_tol=0.15)
    with pytest.raises(ValueError, match="rng_value"):
        retry_delay(attempt, CFG, 1.0)


def test_R3_matches_prefects_clamped_poisson_interval(monkeypatch) -> None:
    prefect_math = pytest.importorskip("prefect.utilities.math")
    for v in (0.0, 0.25, 0.5, 0.9):
        # Prefect draws random.uniform(lo, hi); feed it the same point of that interval.
        monkeypatch.setattr(prefect_math.random, "uniform", lambda lo, hi, v=v: lo + v * (hi - lo))
        expected = prefect_math.clamped_poisson_interval(base_delay(2, CFG), CFG.retry_jitter)
        assert retry_delay(2, CFG, v) == pytest.approx(expected)


def test_R4_delays_for_prefects_task_retries() -> None:
    assert retry_delays(CFG) == [2.0, 6.0, 18.0, 30.0]
    assert retry_delays(PolicyConfig(retries=0)) == []
