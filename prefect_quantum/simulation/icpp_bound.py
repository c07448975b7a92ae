"""An upper bound on the mean fidelity any policy can reach within a makespan, in the ICPP
model: the LP relaxation over per-device qubit-seconds.

Variables `x[j, c] >= 0` (the fraction of job j run in configuration c), with
`sum_c x[j, c] = 1`, and for every device d: `sum x[j, c] * floor(Q_j / n_c) * T[j, c]
<= 127 * M`, where `T` is the configuration's duration; a configuration with
`arrival_j + T[j, c] > M` is excluded. Any schedule finishing by M satisfies these (a job
holds at least floor(Q/n) qubits on each of its devices for its whole duration), so the LP
optimum bounds every policy from above. It ignores packing (127 qubits rarely hold two
splits at once), so it is optimistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prefect_quantum.simulation.icpp_configs import ConfigTable, config_table
from prefect_quantum.simulation.icpp_model import ICPP_DEVICES, IcppDevice, IcppJob


@dataclass(frozen=True, slots=True)
class Bound:
    """The LP optimum at one makespan; `choice[j]` is job j's heaviest configuration row."""

    makespan_s: float
    fidelity_mean: float | None  # None: no schedule can finish by this makespan
    choice: tuple[int, ...]


def lp_bound(jobs: Sequence[IcppJob], makespan_s: float,
             devices: Sequence[IcppDevice] = ICPP_DEVICES,
             table: ConfigTable | None = None, arrivals: Sequence[float] | None = None,
             capacity_factor: float = 1.0, packed: bool = False) -> Bound:
    """Solve the LP (HiGHS). `capacity_factor` < 1 or `packed` (charging
    `packed_qubit_s`) turn it into the planner of `icpp_policy`; only the defaults give a
    bound."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    table = table or config_table(jobs, devices)
    n_jobs = len(jobs)
    starts = np.asarray(arrivals if arrivals is not None else [0.0] * n_jobs)
    allowed = table.duration + starts[table.job] <= makespan_s
    rows = np.flatnonzero(allowed)
    if len(np.unique(table.job[rows])) < n_jobs:
        return Bound(makespan_s, None, ())
    count = len(rows)
    assign = csr_matrix((np.ones(count), (table.job[rows], np.arange(count))),
                        shape=(n_jobs, count))
    usage = csr_matrix((table.packed_qubit_s if packed else table.floor_qubit_s)[rows].T)
    capacity = np.array([d.num_qubits * makespan_s * capacity_factor for d in devices])
    result = linprog(
        -table.fidelity[rows] / n_jobs,
        A_ub=usage, b_ub=capacity,
        A_eq=vstack([assign]), b_eq=np.ones(n_jobs),
        bounds=(0, None), method="highs",
    )
    if result.status != 0:
        return Bound(makespan_s, None, ())
    x = result.x
    best = np.full(n_jobs, -1.0)
    choice = np.zeros(n_jobs, dtype=np.int64)
    for k, row in enumerate(rows):
        j = table.job[row]
        if x[k] > best[j]:
            best[j], choice[j] = x[k], row
    return Bound(makespan_s, float(-result.fun), tuple(int(c) for c in choice))
