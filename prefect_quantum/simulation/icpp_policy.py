"""Our allocation policy for the ICPP scenario: plan each job's device set with the LP of
`icpp_bound` at a target makespan, then dispatch in the model.

Planning: solve the LP charging packed qubit-seconds (a share over half a device blocks
it), with capacity derated by `capacity_factor`, and give each job its heaviest
configuration. Dispatch: a job starts only when every device of its set has its share free
(it never holds qubits while waiting, unlike the paper's broker), longest jobs first with
backfilling; it then pays the model's communication chain and processing time. Fidelity,
times and communication are the model's own formulas (`icpp_model`).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.simulation.icpp2025 import IcppResult, JobRecord, arrival_times, summarize
from prefect_quantum.simulation.icpp_bound import lp_bound
from prefect_quantum.simulation.icpp_configs import Config, ConfigTable, config_table
from prefect_quantum.simulation.icpp_model import ICPP_DEVICES, IcppDevice, IcppJob


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A named target makespan for the planner, and the derating that realizes it."""

    name: str
    plan_makespan_s: float
    capacity_factor: float


# Chosen by measurement on 1000-large-circuits.csv (docs/benchmarks.md).
OPERATING_POINTS: dict[str, OperatingPoint] = {
    "ours-fast": OperatingPoint("ours-fast", 50_000.0, 0.9),
    "ours": OperatingPoint("ours", 95_000.0, 1.0),
    "ours-fidelity": OperatingPoint("ours-fidelity", 175_000.0, 1.0),
}


def dispatch(jobs: Sequence[IcppJob], plan: Sequence[Config], name: str,
             devices: Sequence[IcppDevice] = ICPP_DEVICES) -> IcppResult:
    """Run planned configurations: start when all shares are free, longest first."""
    arrivals = arrival_times(jobs)
    free = [d.num_qubits for d in devices]
    order = sorted(range(len(jobs)), key=lambda j: (-plan[j].duration_s, j))
    pending = list(order)
    running: list[tuple[float, int]] = []
    records: list[JobRecord] = []
    now = 0.0
    times = sorted(set(arrivals))
    next_arrival = 0
    while pending or running:
        still: list[int] = []
        for j in pending:
            config = plan[j]
            if arrivals[j] <= now and all(
                free[i] >= q for i, q in zip(config.devices, config.split, strict=True)
            ):
                for i, q in zip(config.devices, config.split, strict=True):
                    free[i] -= q
                finish = now + config.duration_s
                heapq.heappush(running, (finish, j))
                records.append(JobRecord(
                    jobs[j].job_id, tuple(devices[i].name for i in config.devices),
                    config.split, arrivals[j], now, finish, config.comm_s, config.fidelity,
                ))
            else:
                still.append(j)
        pending = still
        while next_arrival < len(times) and times[next_arrival] <= now:
            next_arrival += 1
        upcoming = times[next_arrival] if next_arrival < len(times) else float("inf")
        if running and running[0][0] <= upcoming:
            now, j = heapq.heappop(running)
            for i, q in zip(plan[j].devices, plan[j].split, strict=True):
                free[i] += q
            while running and running[0][0] == now:
                _, k = heapq.heappop(running)
                for i, q in zip(plan[k].devices, plan[k].split, strict=True):
                    free[i] += q
        elif upcoming < float("inf"):
            now = upcoming
        elif pending:
            raise InvalidInputError("plan", "a planned configuration can never start")
    return summarize(name, records)


def plan_configs(jobs: Sequence[IcppJob], point: OperatingPoint,
                 table: ConfigTable | None = None,
                 devices: Sequence[IcppDevice] = ICPP_DEVICES) -> list[Config]:
    """Each job's configuration from the derated LP at the point's makespan."""
    table = table or config_table(jobs, devices)
    bound = lp_bound(jobs, point.plan_makespan_s, devices, table, arrival_times(jobs),
                     capacity_factor=point.capacity_factor, packed=True)
    if bound.fidelity_mean is None:
        raise InvalidInputError("policy", f"{point.name}: no plan at {point.plan_makespan_s} s")
    return [table.configs[row] for row in bound.choice]


def run_ours(jobs: Sequence[IcppJob], point: str | OperatingPoint = "ours",
             table: ConfigTable | None = None) -> IcppResult:
    """Plan and dispatch one operating point."""
    if isinstance(point, str):
        if point not in OPERATING_POINTS:
            raise InvalidInputError(
                "policy", f"unknown operating point {point!r}; choose from "
                f"{list(OPERATING_POINTS)}")
        point = OPERATING_POINTS[point]
    return dispatch(jobs, plan_configs(jobs, point, table), point.name)
