"""The policy benchmark's metrics for one run (SEEDS.md sections 4 and 5).

- `throughput_per_h`: shots completed on a QPU per hour, each weighted by its success
  probability; `value_per_h`: the same with the job's business value instead of shots,
  counting only jobs done on a QPU, on time and without a compliance violation.
- `wait_mean_s`, `wait_p95_s`: time a QPU-completed job spent not running (arrival to
  finish minus device time); `wait_mean_noncompliance_s` over unrestricted jobs.
- `sla_violation_rate`: jobs with a deadline not finished on a QPU by it.
- `jain`: Jain's index of QPU-seconds received by the equal-share research tenants, over
  the 30-minute windows in which all of them were backlogged at least 90 % of the time
  (1.0 when no such window), averaged over windows.
- `preemptions`, `compliance_violations`, `mean_fidelity` (mean success probability),
  `utilization` (device-busy time over devices x run length), `cost_per_shot` (device
  time at PRICE_PER_DEVICE_S over success-weighted shots).
"""

from __future__ import annotations

import statistics

import numpy as np

from prefect_quantum.scheduling import jain_index
from prefect_quantum.simulation.engine import SimResult
from prefect_quantum.simulation.fleet_model import PRICE_PER_DEVICE_S
from prefect_quantum.simulation.trace import RESEARCH_TENANTS

METRICS = ("throughput_per_h", "value_per_h", "wait_mean_s", "wait_p95_s",
           "wait_mean_noncompliance_s", "sla_violation_rate", "preemptions", "jain",
           "compliance_violations", "mean_fidelity", "utilization", "cost_per_shot")


def waits(result: SimResult) -> list[float]:
    """Wait of every QPU-completed job."""
    return [o.finish - o.job.arrival_time - o.run_s for o in result.outcomes.values()
            if o.finish is not None]


def window_jain(result: SimResult, tenants: tuple[str, ...] = RESEARCH_TENANTS,
                backlogged: float = 0.9) -> list[tuple[int, float]]:
    """(window, Jain index) for each window where every tenant was backlogged."""
    out = []
    for w, backlog in enumerate(result.backlog_by_window):
        if all(backlog.get(t, 0.0) >= backlogged * result.window_s for t in tenants):
            service = result.service_by_window[w] if w < len(result.service_by_window) else {}
            out.append((w, jain_index([service.get(t, 0.0) for t in tenants])))
    return out


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
    jains = [j for _, j in window_jain(result)]
    return {
        "throughput_per_h": shots / hours,
        "value_per_h": value / hours,
        "wait_mean_s": statistics.fmean(all_waits) if all_waits else 0.0,
        "wait_p95_s": float(np.percentile(all_waits, 95)) if all_waits else 0.0,
        "wait_mean_noncompliance_s": statistics.fmean(free_waits) if free_waits else 0.0,
        "sla_violation_rate": len(late) / len(timed) if timed else 0.0,
        "preemptions": float(sum(o.preemptions for o in result.outcomes.values())),
        "jain": statistics.fmean(jains) if jains else 1.0,
        "compliance_violations": float(sum(o.compliance_violation for o in done)),
        "mean_fidelity": statistics.fmean(o.success for o in done) if done else 0.0,
        "utilization": result.busy_s / (result.num_devices * max(result.end_s, 1.0)),
        "cost_per_shot": result.busy_s * PRICE_PER_DEVICE_S / shots if shots else 0.0,
    }
