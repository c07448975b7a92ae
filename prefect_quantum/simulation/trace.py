"""Job traces for the policy benchmark: generators and CSV in the ICPP column format plus
our own columns (SEEDS.md section 5: short calibration jobs, medium research runs, long
compliance-restricted experiments; Poisson, bursty and deadline-driven arrivals).

Job kinds (work in QPU-seconds at the reference 100,000 CLOPS):

| kind | tenant | class | work_s | value | deadline | compliance |
|---|---|---|---|---|---|---|
| calibration | ops | urgent (3) | 20-120 | 1 | +15 min | - |
| research | alice, bob, carol | normal (1), low (0) | 120-900 | 2 (low: 1) | 1/4: +3 h | - |
| compliance | gov | high (2) | 600-2,400 | 6 | +8 h | fedramp, non-preemptible |

Arrivals: research by a Poisson process per tenant, carol's in bursts (her demand is twice
the others'); calibration jobs every 2 h per device-sweep (deadline-driven) plus Poisson;
compliance by Poisson.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.simulation.icpp_model import ICPP_COLUMNS

EXTRA_COLUMNS = ("tenant", "kind", "work_s", "value", "deadline", "compliance_domain",
                 "preemptible")
HORIZON_S = 8 * 3600.0
RESEARCH_TENANTS = ("alice", "bob", "carol")


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One job of a trace; `deadline` is absolute seconds (None: no SLA)."""

    job_id: str
    num_qubits: int
    two_qubits: int
    depth: int
    priority: int
    arrival_time: float
    num_shots: int
    tenant: str
    kind: str
    work_s: float
    value: float
    deadline: float | None = None
    compliance_domain: str | None = None
    preemptible: bool = True


def _job(rng: np.random.Generator, kind: str, tenant: str, at: float, n: int) -> TraceJob:
    qubits = int(rng.integers(5, 100))
    depth = int(rng.integers(5, 40))
    deadline: float | None
    if kind == "calibration":
        work, priority, value, deadline = rng.uniform(20, 120), 3, 1.0, at + 900.0
        qubits, depth = int(rng.integers(1, 10)), int(rng.integers(1, 5))
    elif kind == "research":
        work = rng.uniform(120, 900)
        priority = 1 if rng.random() < 0.7 else 0
        value = 2.0 if priority == 1 else 1.0
        deadline = at + 3 * 3600.0 if rng.random() < 0.25 else None
    else:
        work, priority, value, deadline = rng.uniform(600, 2400), 2, 6.0, at + 8 * 3600.0
    shots = round(float(work)) * 100  # 100 shots per reference second
    return TraceJob(
        job_id=f"{kind[:3]}-{n:05d}", num_qubits=qubits, two_qubits=qubits // 2, depth=depth,
        priority=priority, arrival_time=round(at, 3), num_shots=max(100, shots),
        tenant=tenant, kind=kind, work_s=round(float(work), 3), value=value,
        deadline=None if deadline is None else round(deadline, 3),
        compliance_domain="fedramp" if kind == "compliance" else None,
        preemptible=kind != "compliance",
    )


def _poisson(rng: np.random.Generator, rate_per_h: float, horizon: float) -> list[float]:
    times: list[float] = []
    t = 0.0
    while True:
        t += float(rng.exponential(3600.0 / rate_per_h))
        if t >= horizon:
            return times
        times.append(t)


def _bursts(rng: np.random.Generator, bursts_per_h: float, size: int,
            horizon: float) -> list[float]:
    return [start + float(rng.uniform(0, 300)) for start in _poisson(rng, bursts_per_h, horizon)
            for _ in range(size)]


def generate_trace(seed: int, horizon_s: float = HORIZON_S, load: float = 1.0) -> list[TraceJob]:
    """The default mixed trace; `load` scales every arrival rate."""
    rng = np.random.default_rng(seed)
    arrivals: list[tuple[float, str, str]] = []
    for tenant in ("alice", "bob"):
        arrivals += [(t, "research", tenant) for t in _poisson(rng, 6.0 * load, horizon_s)]
    arrivals += [(t, "research", "carol") for t in _bursts(rng, 1.5 * load, 8, horizon_s)]
    sweeps = np.arange(1800.0, horizon_s, 7200.0)  # deadline-driven calibration sweeps
    arrivals += [(float(t) + 5.0 * k, "calibration", "ops") for t in sweeps for k in range(5)]
    arrivals += [(t, "calibration", "ops") for t in _poisson(rng, 1.5 * load, horizon_s)]
    arrivals += [(t, "compliance", "gov") for t in _poisson(rng, 0.7 * load, horizon_s)]
    arrivals.sort()
    return [_job(rng, kind, tenant, min(at, horizon_s), n)
            for n, (at, kind, tenant) in enumerate(arrivals)]


def save_trace(jobs: list[TraceJob], path: str | Path) -> None:
    """Write the ICPP columns first, then ours."""
    names = [f.name for f in fields(TraceJob)]
    header = list(ICPP_COLUMNS) + [c for c in EXTRA_COLUMNS if c in names]
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for job in jobs:
            row = asdict(job)
            writer.writerow({k: "" if row[k] is None else row[k] for k in header})


def load_trace(path: str | Path) -> list[TraceJob]:
    """Read a trace CSV; an ICPP-only file gets defaults (tenant "default", research,
    `work_s` from shots at 100 shots per second), and a given `arrival_time` is kept
    (missing: 0.01 s apart, as the ICPP generator feeds them)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("trace", f"no such CSV file: {path}")
    jobs = []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"job_id", "num_qubits", "num_shots"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidInputError("trace", f"{path}: missing columns {sorted(missing)}")
        for i, row in enumerate(reader, start=1):
            try:
                jobs.append(_from_row(row, i))
            except (ValueError, KeyError) as exc:
                raise InvalidInputError("trace", f"{path} row {i}: {exc}") from None
    if not jobs:
        raise InvalidInputError("trace", f"{path}: no jobs")
    return sorted(jobs, key=lambda j: (j.arrival_time, j.job_id))


def _opt(row: dict[str, str], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return value or None


def _from_row(row: dict[str, str], i: int) -> TraceJob:
    shots = int(row["num_shots"])
    arrival = _opt(row, "arrival_time")
    work = _opt(row, "work_s")
    deadline = _opt(row, "deadline")
    preemptible = _opt(row, "preemptible")
    value = _opt(row, "value")
    job = TraceJob(
        job_id=row["job_id"], num_qubits=int(row["num_qubits"]),
        two_qubits=int(_opt(row, "two_qubits") or 0), depth=int(_opt(row, "depth") or 1),
        priority=int(_opt(row, "priority") or 1),
        arrival_time=float(arrival) if arrival else round(0.01 * i, 2),
        num_shots=shots, tenant=_opt(row, "tenant") or "default",
        kind=_opt(row, "kind") or "research",
        work_s=float(work) if work else shots / 100.0,
        value=float(value) if value else 1.0,
        deadline=float(deadline) if deadline else None,
        compliance_domain=_opt(row, "compliance_domain"),
        preemptible=preemptible is None or preemptible.lower() in {"true", "1", "yes"},
    )
    if not (math.isfinite(job.arrival_time) and job.work_s >= 0):
        raise ValueError("arrival_time and work_s must be finite, work_s >= 0")
    return job
