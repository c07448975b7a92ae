"""Calibration snapshots: the parsed form of one IBM calibration CSV.

Parsing rules for imperfect files (each covered by a test):

- header names are stripped (the exports carry trailing spaces) and a BOM is ignored;
- a repeated qubit row keeps the first occurrence;
- a missing or unparsable per-qubit value makes that qubit non-operational and is filled with
  the snapshot's median of the column, so device-level means stay comparable;
- a qubit with no row at all is added as non-operational with median values;
- probabilities and errors are clamped to [0, 1]; a missing, unparsable or >= 1 two-qubit
  error marks the coupler broken (error 1.0); a missing coupler duration takes the median
  of the snapshot's coupler durations;
- the ``Operational`` flag is read case-insensitively (``true``/``TRUE``/``1``/``yes``).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from prefect_quantum.errors import InvalidInputError

from .catalog import DeviceSpec, device_spec, find_snapshot

BROKEN_ERROR = 1.0

# CSV column -> QubitCalibration field, for the per-qubit numbers.
_QUBIT_COLUMNS: dict[str, str] = {
    "T1 (us)": "t1_us",
    "T2 (us)": "t2_us",
    "Prob meas1 prep0": "prob_meas1_prep0",
    "Prob meas0 prep1": "prob_meas0_prep1",
    "Readout length (ns)": "readout_length_ns",
    "√x (sx) error": "sx_error",
    "Pauli-X error": "x_error",
    "ID error": "id_error",
}
_PROBABILITIES = {"prob_meas1_prep0", "prob_meas0_prep1", "sx_error", "x_error", "id_error"}
_TWO_QUBIT_COLUMNS = {"ecr": "ECR error", "cz": "CZ error"}
_TRUE = {"true", "1", "yes", "y", "t"}


@dataclass(frozen=True)
class QubitCalibration:
    """Measured properties of one physical qubit."""

    t1_us: float
    t2_us: float
    prob_meas1_prep0: float
    prob_meas0_prep1: float
    readout_length_ns: float
    sx_error: float
    x_error: float
    id_error: float
    operational: bool

    @property
    def readout_error(self) -> float:
        """Readout assignment error: the mean of the two conditional flip probabilities."""
        return (self.prob_meas1_prep0 + self.prob_meas0_prep1) / 2


@dataclass(frozen=True)
class Calibration:
    """One calibration snapshot of one device.

    ``couplers`` maps a directed pair (a, b) to (error, duration in ns); broken couplers are
    kept with error 1.0. Hashable (the coupler map is left out of the hash, not of equality).
    """

    device: str
    snapshot_id: str
    timestamp: datetime
    two_qubit_gate: str
    qubits: tuple[QubitCalibration, ...]
    couplers: Mapping[tuple[int, int], tuple[float, float]] = field(hash=False)
    clops: int
    quantum_volume: int
    single_qubit_gate_ns: float = 60.0  # not in the CSVs; see DeviceSpec

    @property
    def num_qubits(self) -> int:
        """Physical qubits, operational or not."""
        return len(self.qubits)

    @property
    def mean_readout_error(self) -> float:
        """Mean readout assignment error over all qubits."""
        return statistics.fmean(q.readout_error for q in self.qubits)

    @property
    def mean_sx_error(self) -> float:
        """Mean sx error over all qubits."""
        return statistics.fmean(q.sx_error for q in self.qubits)

    @property
    def mean_two_qubit_error(self) -> float:
        """Mean two-qubit gate error over all couplers, broken ones counted at 1.0."""
        if not self.couplers:
            return BROKEN_ERROR
        return statistics.fmean(error for error, _ in self.couplers.values())

    @property
    def error_score(self) -> float:
        """The ICPP 2025 device score: 0.5 readout + 0.3 sx + 0.2 two-qubit (lower is better)."""
        return (
            0.5 * self.mean_readout_error
            + 0.3 * self.mean_sx_error
            + 0.2 * self.mean_two_qubit_error
        )

    @property
    def working_couplers(self) -> list[tuple[int, int]]:
        """Directed couplers that are not broken and join two operational qubits."""
        return [
            (a, b)
            for (a, b), (error, _) in self.couplers.items()
            if error < BROKEN_ERROR and self.qubits[a].operational and self.qubits[b].operational
        ]


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _pairs(raw: str | None) -> Iterable[tuple[int, int, float | None]]:
    """``"0_1:0.01;0_14:1"`` -> (0, 1, 0.01), (0, 14, 1.0); malformed items are skipped."""
    for item in (raw or "").split(";"):
        key, sep, value = item.partition(":")
        a, sep2, b = key.strip().partition("_")
        if not sep or not sep2:
            continue
        try:
            qa, qb = int(a), int(b)
        except ValueError:
            continue
        yield qa, qb, _number(value)


def parse_calibration(
    text: str, spec: DeviceSpec, snapshot_id: str, timestamp: datetime
) -> Calibration:
    """Parse the text of one calibration CSV of the device described by ``spec``."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in next(reader, [])]
    if "Qubit" not in header:
        raise InvalidInputError("calibration", f"{snapshot_id}: no 'Qubit' column")
    rows: dict[int, dict[str, str]] = {}
    for cells in reader:
        row = dict(zip(header, cells, strict=False))
        index = _number(row.get("Qubit"))
        if index is None or index < 0 or index != int(index) or int(index) in rows:
            continue
        rows[int(index)] = row
    num_qubits = max([spec.num_qubits, *(i + 1 for i in rows)])

    parsed: dict[int, dict[str, float | None]] = {
        i: {f: _number(row.get(col)) for col, f in _QUBIT_COLUMNS.items()}
        for i, row in rows.items()
    }
    medians: dict[str, float] = {}
    for f in _QUBIT_COLUMNS.values():
        present = [v for values in parsed.values() if (v := values[f]) is not None]
        medians[f] = statistics.median(present) if present else 0.0
    qubits = []
    for i in range(num_qubits):
        values = parsed.get(i, dict.fromkeys(_QUBIT_COLUMNS.values()))
        complete = i in rows and all(v is not None for v in values.values())
        flag = rows.get(i, {}).get("Operational", "true").strip().lower() or "true"
        filled = {f: medians[f] if v is None else v for f, v in values.items()}
        for f in _PROBABILITIES:
            filled[f] = min(max(filled[f], 0.0), 1.0)
        qubits.append(QubitCalibration(**filled, operational=complete and flag in _TRUE))

    errors: dict[tuple[int, int], float] = {}
    durations: dict[tuple[int, int], float] = {}
    column = _TWO_QUBIT_COLUMNS[spec.two_qubit_gate]
    for row in rows.values():
        for a, b, value in _pairs(row.get(column)):
            if a != b and 0 <= a < num_qubits and 0 <= b < num_qubits:
                broken = value is None or value >= BROKEN_ERROR
                errors.setdefault((a, b), BROKEN_ERROR if broken else max(value or 0.0, 0.0))
        for a, b, value in _pairs(row.get("Gate time (ns)")):
            if value is not None and value > 0:
                durations.setdefault((a, b), value)
    default_ns = statistics.median(durations.values()) if durations else 0.0
    couplers = {pair: (err, durations.get(pair, default_ns)) for pair, err in errors.items()}
    return Calibration(
        device=spec.name,
        snapshot_id=snapshot_id,
        timestamp=timestamp,
        two_qubit_gate=spec.two_qubit_gate,
        qubits=tuple(qubits),
        couplers=MappingProxyType(couplers),
        clops=spec.clops,
        quantum_volume=spec.quantum_volume,
        single_qubit_gate_ns=spec.single_qubit_gate_ns,
    )


@lru_cache(maxsize=64)
def _load(path: Path, device: str, snapshot_id: str, timestamp: datetime) -> Calibration:
    return parse_calibration(
        path.read_text(encoding="utf-8"), device_spec(device), snapshot_id, timestamp
    )


def load_calibration(device: str, snapshot: str | None = None) -> Calibration:
    """Load a real snapshot of ``device``.

    ``snapshot`` is ``None`` (the latest, March 2025), a month ``"MM_YYYY"`` or a snapshot id
    from ``list_snapshots``. Parsed snapshots are cached; :class:`Calibration` is immutable.
    """
    found = find_snapshot(device, snapshot)
    return _load(found.path, found.device, found.snapshot_id, found.timestamp)
