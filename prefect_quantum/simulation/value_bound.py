"""An upper bound on the business-value throughput (`value_per_h`) any policy can reach on
one trace and one scenario seed: an LP relaxation over per-device QPU-seconds.

`value_per_h` is the value of the jobs done on time, each times its success probability,
over the run's end `M` (every job runs: the benchmark drops none). For a given `M`, the
variables are `x[j, d] >= 0`, the fraction of job j run on device d (d eligible: qubits,
compliance), split for a job with a deadline into an on-time part and a late part, with:

- every job whole: its parts sum to 1;
- device capacity: for every device d and every threshold `t` in a grid (every 10
  minutes), `sum_{j: arrival_j >= t} x[j, d] * seconds[j, d] <= up_d(t, M)`, the time d
  is up (no outage, no calibration window) in `[t, M]` (a job arriving after t runs after t);
- one device at a time: `sum_d x[j, d] * seconds[j, d] <= M - arrival_j` (a job runs on
  one device at a time, so its pieces add up);
- on time means inside its window: `sum_d x_on[j, d] * (seconds[j, d] - (deadline_j -
  arrival_j)) <= 0` (with `y_j = sum_d x_on[j, d]` the on-time share, the on-time pieces
  take at most `y_j` times the window; for a whole job, y is 0 or 1).

Any schedule ending by M satisfies these, so the LP's maximum of `sum value_j * s[j, d] *
x_on[j, d]` (a job without deadline is all on time), with `s[j, d]` the job's best success
on d over the run (drift), bounds the value any policy delivers by M. Warm-ups, lost work,
packing, contention between deadlines and one-job-per-device are ignored: the bound is
optimistic.

The bound on `value_per_h` is `max_i LP(M_{i+1}) / M_i` over a grid `M_0 < M_1 < ...`
(0.5 % apart) starting at the least `M` for which the LP is feasible (found by bisection to
within seconds; `LP(M_0) / lo` covers a run ending just below `M_0`), since LP(M) grows
with M; past the grid, `sum value_j * max_d s[j, d] / M_last` (each job's best on-time
value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from prefect_quantum.simulation.fleet_model import (
    FLEET,
    Scenario,
    SimDevice,
    draw_timeline,
    success_probability,
)
from prefect_quantum.simulation.trace import TraceJob

REFERENCE_CLOPS = 100_000.0


def _up_time(down: Sequence[tuple[float, float, bool]], start: float, end: float) -> float:
    """Seconds in `[start, end]` outside the (possibly overlapping) down intervals."""
    covered, reach = 0.0, start
    for a, b, _ in sorted(down):
        a, b = max(a, reach), min(b, end)
        if b > a:
            covered += b - a
            reach = b
    return max(0.0, end - start - covered)


def value_rate_bound(trace: Sequence[TraceJob], sc: Scenario, seed: int,
                     fleet: tuple[SimDevice, ...] = FLEET, steps: int = 12,
                     step: float = 0.005) -> float:
    """An upper bound on `value_per_h` for this trace and scenario seed (see module doc)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    jobs = list(trace)
    horizon = max((j.arrival_time for j in jobs), default=0.0) + 1.0
    timeline = draw_timeline(sc, seed, horizon, fleet)
    hours = timeline.drift.shape[1]
    cols: list[tuple[int, int, bool]] = []  # (job, device, on time)
    gain: list[float] = []
    seconds: list[float] = []
    best = np.zeros(len(jobs))
    for j, job in enumerate(jobs):
        for d, device in enumerate(fleet):
            if device.num_qubits < job.num_qubits or (
                job.compliance_domain is not None
                and job.compliance_domain not in device.compliance_domains
            ):
                continue
            first = int(job.arrival_time // 3600)
            s = max(success_probability(timeline.error_score(d, device.error_score, h * 3600.0),
                                        job.num_qubits, job.depth)
                    for h in range(min(first, hours - 1), hours))
            run_s = job.work_s * REFERENCE_CLOPS / device.speed
            for on_time in (True, False) if job.deadline is not None else (True,):
                cols.append((j, d, on_time))
                gain.append(job.value * s if on_time else 0.0)
                seconds.append(run_s)
            if job.deadline is None or run_s <= job.deadline - job.arrival_time:
                best[j] = max(best[j], job.value * s)
    n = len(cols)
    job_of = np.array([c[0] for c in cols])
    dev_of = np.array([c[1] for c in cols])
    sec = np.asarray(seconds)
    arrivals = np.array([job.arrival_time for job in jobs])
    arrival = arrivals[job_of]
    thresholds = [0.0] + [600.0 * h for h in range(1, math.ceil(horizon / 600.0))]
    assign = csr_matrix((np.ones(n), (job_of, np.arange(n))), shape=(len(jobs), n))
    rows, row_cols, row_vals = [], [], []
    for k, t in enumerate(thresholds):
        for d in range(len(fleet)):
            mask = np.flatnonzero((dev_of == d) & (arrival >= t))
            rows += [k * len(fleet) + d] * len(mask)
            row_cols += mask.tolist()
            row_vals += sec[mask].tolist()
    usage = csr_matrix((row_vals, (rows, row_cols)), shape=(len(thresholds) * len(fleet), n))
    serial = csr_matrix((sec, (job_of, np.arange(n))), shape=(len(jobs), n))
    timed = [i for i, c in enumerate(cols) if c[2] and jobs[c[0]].deadline is not None]
    row_of = {j: k for k, j in enumerate(sorted({cols[i][0] for i in timed}))}
    window = np.array([(jobs[cols[i][0]].deadline or 0.0) - arrival[i] for i in timed])
    on_time = csr_matrix((sec[timed] - window, ([row_of[cols[i][0]] for i in timed], timed)),
                         shape=(len(row_of), n))
    a_ub = vstack([usage, serial, on_time]).tocsr()

    def lp(makespan: float) -> float | None:
        capacity = np.array([_up_time(timeline.down[d], t, makespan)
                             for t in thresholds for d in range(len(fleet))])
        b_ub = np.concatenate([capacity, np.maximum(makespan - arrivals, 0.0),
                               np.zeros(len(row_of))])
        result = linprog(-np.asarray(gain), A_ub=a_ub, b_ub=b_ub, A_eq=assign,
                         b_eq=np.ones(len(jobs)), bounds=(0, None), method="highs")
        return None if result.status != 0 else float(-result.fun)

    # The least feasible makespan, by bisection between the last arrival and a sure one.
    lo = horizon
    speed = sum(d.speed for d in fleet) / REFERENCE_CLOPS
    hi = horizon + 2.0 * sum(j.work_s for j in jobs) / speed + 3600.0
    while lp(hi) is None:
        hi *= 2.0
    for _ in range(14):  # to within (hi - lo) / 2**14 of the least feasible makespan
        mid = (lo + hi) / 2
        if lp(mid) is None:
            lo = mid
        else:
            hi = mid
    grid = [hi * (1 + step * i) for i in range(steps + 1)]
    values = [lp(m) for m in grid]
    # The least feasible makespan is in (lo, grid[0]]: a run ending there has at most
    # values[0] over at least lo.
    bounds = [(values[0] or 0.0) / lo]
    bounds += [(values[i + 1] or 0.0) / grid[i] for i in range(steps)]
    bounds.append(float(best.sum()) / grid[-1])
    return max(bounds) * 3600.0
