"""The policy benchmark's metrics for one run (SEEDS.md sections 4 and 5).

- `throughput_per_h`: shots completed on a QPU per hour, each weighted by its success
  probability; `value_per_h`: the same with the job's business value instead of shots,
  counting only jobs done on a QPU, on time and without a compliance violation.
- `wait_mean_s`, `wait_p95_s`: time a QPU-completed job spent not running (arrival to
  finish minus device time); `wait_mean_noncompliance_s` over unrestricted jobs.
- `sla_violation_rate`: jobs with a deadline not finished on a QPU by it.
- `jain`: Jain's index over the equal-share research tenants of the QPU-seconds each
  received, divided by its share, pooled over the run's contention period: the 30-minute
  windows in which every one of them was backlogged (had a job waiting) at least 90 % of
  the time. A backlogged tenant demands at least its fair share, so equal service per
  share is the fair allocation there (Jain 1.0); outside those windows a tenant asking
  less than its share is owed only what it asks, and a raw index would count that as
  unfairness. NaN when the run has no such window (no measurement, never 1.0);
  `jain_windows` is the number of windows pooled. (Until 2026-11 the index was averaged
  per window and a run without such a window scored 1.0: see docs/benchmarks.md.)
- `preemptions`, `compliance_violations`, `mean_fidelity` (mean success probability),
  `utilization` (device-busy time over devices x run length), `cost_per_shot` (device
  time at PRICE_PER_DEVICE_S over success-weighted shots).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

import numpy as np

from prefect_quantum.scheduling import jain_index
from prefect_quantum.simulation.engine import SimResult
from prefect_quantum.simulation.fleet_model import PRICE_PER_DEVICE_S
from prefect_quantum.simulation.trace import RESEARCH_TENANTS

METRICS = ("throughput_per_h", "value_per_h", "wait_mean_s", "wait_p95_s",
           "wait_mean_noncompliance_s", "sla_violation_rate", "preemptions", "jain",
           "jain_windows",
           "compliance_violations", "mean_fidelity", "utilization", "cost_per_shot")


def waits(result: SimResult) -> list[float]:
    """Wait of every QPU-completed job."""
    return [o.finish - o.job.arrival_time - o.run_s for o in result.outcomes.values()
            if o.finish is not None]


def contended_windows(result: SimResult, tenants: tuple[str, ...] = RESEARCH_TENANTS,
                      backlogged: float = 0.9) -> list[int]:
    """The windows in which every one of `tenants` had a job waiting at least
    `backlogged` of the time."""
    return [w for w, backlog in enumerate(result.backlog_by_window)
            if all(backlog.get(t, 0.0) >= backlogged * result.window_s for t in tenants)]


def _service(result: SimResult, window: int) -> dict[str, float]:
    return result.service_by_window[window] if window < len(result.service_by_window) else {}


def window_jain(result: SimResult, tenants: tuple[str, ...] = RESEARCH_TENANTS,
                backlogged: float = 0.9) -> list[tuple[int, float]]:
    """(window, Jain index of that window alone) for each contended window: fairness
    over time, for plots."""
    return [(w, jain_index([_service(result, w).get(t, 0.0) for t in tenants]))
            for w in contended_windows(result, tenants, backlogged)]


def contention_jain(result: SimResult, tenants: tuple[str, ...] = RESEARCH_TENANTS,
                    shares: Mapping[str, float] | None = None,
                    backlogged: float = 0.9) -> tuple[float, int]:
    """(Jain index of QPU-seconds per share pooled over the contended windows, number of
    windows); NaN when there is none."""
    windows = contended_windows(result, tenants, backlogged)
    if not windows:
        return math.nan, 0
    total = dict.fromkeys(tenants, 0.0)
    for w in windows:
        service = _service(result, w)
        for t in tenants:
            total[t] += service.get(t, 0.0)
    share = shares or {}
    return jain_index([total[t] / share.get(t, 1.0) for t in tenants]), len(windows)


def run_metrics(result: SimResult) -> dict[str, float]:
    """All metrics of one run."""
    done = [o for o in result.outcomes.values() if o.finish is not None]
    hours = max(result.end_s, 1.0) / 3600.0
    shots = sum(o.job.num_shots * o.success for o in done)
    value = sum(o.job.value * o.success for o in done if not o.compliance_violation and (
        o.job.deadline is None or (o.finish is not None and o.finish <= o.job.deadline)))
    timed = [o for o in result.outcomes.values() if o.job.deadline is not None]
    late = [o for o in timed if o.finish is None or o.finish > (o.job.deadline or 0.0)]
    all_waits = waits(result)
    free_waits = [o.finish - o.job.arrival_time - o.run_s for o in done
                  if o.job.compliance_domain is None and o.finish is not None]
    jain, jain_windows = contention_jain(result)
    return {
        "throughput_per_h": shots / hours,
        "value_per_h": value / hours,
        "wait_mean_s": statistics.fmean(all_waits) if all_waits else 0.0,
        "wait_p95_s": float(np.percentile(all_waits, 95)) if all_waits else 0.0,
        "wait_mean_noncompliance_s": statistics.fmean(free_waits) if free_waits else 0.0,
        "sla_violation_rate": len(late) / len(timed) if timed else 0.0,
        "preemptions": float(sum(o.preemptions for o in result.outcomes.values())),
        "jain": jain,
        "jain_windows": float(jain_windows),
        "compliance_violations": float(sum(o.compliance_violation for o in done)),
        "mean_fidelity": statistics.fmean(o.success for o in done) if done else 0.0,
        "utilization": result.busy_s / (result.num_devices * max(result.end_s, 1.0)),
        "cost_per_shot": result.busy_s * PRICE_PER_DEVICE_S / shots if shots else 0.0,
    }
