"""Retries with capped, jittered exponential backoff [R1..R4]."""

from __future__ import annotations

import math

from prefect_quantum.errors import is_transient
from prefect_quantum.scheduling.config import PolicyConfig


def base_delay(attempt: int, config: PolicyConfig) -> float:
    """`d_k = min(retry_cap_s, retry_base_s * retry_factor ** (k - 1))` for retry `k >= 1`."""
    if attempt < 1:
        raise ValueError(f"attempt: must be >= 1, got {attempt!r}")
    # Exponent capped so huge attempts cannot overflow; the cap applies long before.
    exponent = min(attempt - 1, 1024)
    try:
        raw = config.retry_base_s * config.retry_factor**exponent
    except OverflowError:
        raw = math.inf
    return min(config.retry_cap_s, raw)


def retry_delay(attempt: int, config: PolicyConfig, rng_value: float) -> float:
    """Delay before retry `attempt` given a uniform `rng_value` in [0, 1) ([R3]).

    Same distribution as Prefect's `clamped_poisson_interval(d_k, retry_jitter)`: at most
    `d_k * (1 + retry_jitter)`, mean about `d_k`; exactly `d_k` without jitter.
    """
    if not 0.0 <= rng_value < 1.0:
        raise ValueError(f"rng_value: must be in [0, 1), got {rng_value!r}")
    delay = base_delay(attempt, config)
    jitter = config.retry_jitter
    if jitter == 0 or delay <= 0:
        return delay
    upper_multiple = 1.0 + jitter
    lower_multiple = (
        0.0
        if upper_multiple >= 50
        else math.log2(2**upper_multiple / (2**upper_multiple - 1))
    )
    q_hi = 1.0 - math.exp(-upper_multiple)
    q_lo = 1.0 - math.exp(-lower_multiple)
    q = q_lo + rng_value * (q_hi - q_lo)
    return -math.log(max(1.0 - q, 1e-10)) * delay


def retry_delays(config: PolicyConfig) -> list[float]:
    """Un-jittered delays for Prefect's `retry_delay_seconds` ([R4])."""
    return [base_delay(k, config) for k in range(1, config.retries + 1)]


def retries_exhausted(retries_used: int, config: PolicyConfig) -> bool:
    """True once a job has used more retries than the budget allows ([R2])."""
    return retries_used > config.retries


def should_retry(exc: BaseException, retries_used: int, config: PolicyConfig) -> bool:
    """Retry only transient errors, and only within the budget ([R1], [R2])."""
    return is_transient(exc) and retries_used < config.retries
