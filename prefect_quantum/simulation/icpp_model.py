"""The ICPP 2025 multi-QPU model's numbers and formulas, exactly as SEEDS.md section 6 states.

Device numbers are the March 2025 calibration means (`fleet.load_calibration`), copied here
at full precision so this package never imports the fleet (which loads qiskit); a test
checks them against the CSVs.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from prefect_quantum.errors import InvalidInputError

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_JOBS = DATA_DIR / "1000-large-circuits.csv"
QUBITS_PER_DEVICE = 127
QUANTUM_VOLUME = 128
COMM_S_PER_QUBIT = 0.02
LINK_PENALTY = 0.94
ARRIVAL_STEP_S = 0.01
POLL_S = 1.0
ICPP_COLUMNS = ("job_id", "num_qubits", "two_qubits", "depth", "priority", "arrival_time",
                "num_shots")


@dataclass(frozen=True, slots=True)
class IcppDevice:
    """One QPU of the model: speed and mean errors of its March 2025 calibration."""

    name: str
    clops: float
    readout_error: float
    sx_error: float
    two_qubit_error: float
    error_score: float
    num_qubits: int = QUBITS_PER_DEVICE


# List order matters (speed mode): strasbourg, brussels, kyiv, quebec, kawasaki.
ICPP_DEVICES: tuple[IcppDevice, ...] = (
    IcppDevice("ibm_strasbourg", 220_000.0, 0.0432378813976378, 0.0010909289872504402,
               0.09301455717370931, 0.040549130829735894),
    IcppDevice("ibm_brussels", 220_000.0, 0.035221610482283464, 0.0005031651096342995,
               0.07353712663786961, 0.032469180101605946),
    IcppDevice("ibm_kyiv", 30_000.0, 0.03104622908464567, 0.0012955521738079426,
               0.06126708924138803, 0.028165198042742826),
    IcppDevice("ibm_quebec", 32_000.0, 0.03785909817913386, 0.0009109464382049589,
               0.07321380481052724, 0.033845593983133866),
    IcppDevice("ibm_kawasaki", 29_000.0, 0.028689406988188976, 0.00040551946946106894,
               0.0796207557034475, 0.030390510475622308),
)


@dataclass(frozen=True, slots=True)
class IcppJob:
    """One row of an ICPP workload CSV; `index` is its 1-based position in the file."""

    index: int
    job_id: str
    num_qubits: int
    two_qubits: int
    depth: int
    priority: int
    num_shots: int
    arrival_time: float | None = None


def load_jobs(path: str | Path = DEFAULT_JOBS) -> list[IcppJob]:
    """Read an ICPP workload CSV (columns `ICPP_COLUMNS`; extra columns are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("jobs", f"no such CSV file: {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(ICPP_COLUMNS) - set(reader.fieldnames or ())
        missing.discard("arrival_time")
        if missing:
            raise InvalidInputError("jobs", f"{path}: missing columns {sorted(missing)}")
        jobs = []
        for i, row in enumerate(reader, start=1):
            try:
                arrival = (row.get("arrival_time") or "").strip()
                jobs.append(IcppJob(
                    i, row["job_id"], int(row["num_qubits"]), int(row["two_qubits"]),
                    int(row["depth"]), int(row["priority"]), int(row["num_shots"]),
                    float(arrival) if arrival else None,
                ))
            except ValueError as exc:
                raise InvalidInputError("jobs", f"{path} row {i}: {exc}") from None
    if not jobs:
        raise InvalidInputError("jobs", f"{path}: no jobs")
    return jobs


def process_time(device: IcppDevice, shots: int) -> float:
    """`100 * 10 * S * log2(QV) / CLOPS / 60`: their formula, seconds and minutes mixed."""
    return 100 * 10 * shots * math.log2(QUANTUM_VOLUME) / device.clops / 60


def split_qubits(num_qubits: int, n: int) -> list[int]:
    """`floor(Q/n)` each, plus one for the first `Q mod n` devices."""
    base, extra = divmod(num_qubits, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def comm_links(split: list[int]) -> list[float]:
    """The chain's link times `0.02 * (q_i + q_(i+1))`, paid one after another (a job's
    recorded communication time sums them rounded to 4 decimals, as their log does)."""
    return [(a + b) * COMM_S_PER_QUBIT for a, b in itertools.pairwise(split)]


def job_fidelity(job: IcppJob, devices: list[IcppDevice]) -> float:
    """`0.94^(n-1) * mean_d[(1-sx_d)^D * (1-ro_d)^sqrt(floor(Q/n))]`, rounded to 4 decimals."""
    n = len(devices)
    per_qubit = (job.num_qubits // n) ** 0.5
    mean = sum(
        (1 - d.sx_error) ** job.depth * (1 - d.readout_error) ** per_qubit for d in devices
    ) / n
    return round(mean * LINK_PENALTY ** (n - 1), 4)
