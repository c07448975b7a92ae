"""The devices the fleet knows and where their calibration snapshots live.

Published device facts (processor, CLOPS, quantum volume) are the figures the ICPP 2025 paper
uses; the calibration CSVs under ``data/<MM_YYYY>/`` carry everything measured per qubit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from prefect_quantum.errors import InvalidInputError, UnknownDeviceError

DATA_DIR = Path(__file__).parent / "data"
LATEST_MONTH = "03_2025"

_FILE_RE = re.compile(
    r"^(?P<device>ibm_[a-z]+)_calibrations_"
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2})_(?P<m>\d{2})_(?P<s>\d{2})Z\.csv$"
)
_MONTH_RE = re.compile(r"^\d{2}_\d{4}$")


@dataclass(frozen=True)
class DeviceSpec:
    """Published facts of one IBM processor (not in its calibration CSV)."""

    name: str
    processor: str
    num_qubits: int
    two_qubit_gate: str
    clops: int
    quantum_volume: int
    # The CSVs carry no single-qubit gate durations; these are IBM's typical published
    # values (an assumption that only feeds the thermal-relaxation part of the noise).
    single_qubit_gate_ns: float


def _eagle(name: str, clops: int) -> DeviceSpec:
    return DeviceSpec(name, "Eagle r3", 127, "ecr", clops, 128, 60.0)


DEVICES: dict[str, DeviceSpec] = {
    spec.name: spec
    for spec in (
        _eagle("ibm_strasbourg", 220_000),
        _eagle("ibm_brussels", 220_000),
        _eagle("ibm_brisbane", 180_000),
        _eagle("ibm_kyiv", 30_000),
        _eagle("ibm_quebec", 32_000),
        _eagle("ibm_kawasaki", 29_000),
        _eagle("ibm_rensselaer", 32_000),
        _eagle("ibm_sherbrooke", 30_000),
        DeviceSpec("ibm_torino", "Heron r1", 133, "cz", 210_000, 128, 32.0),
        DeviceSpec("ibm_fez", "Heron r2", 156, "cz", 195_000, 128, 32.0),
        DeviceSpec("ibm_marrakesh", "Heron r2", 156, "cz", 195_000, 128, 32.0),
    )
}


@dataclass(frozen=True)
class SnapshotFile:
    """One calibration CSV: which device, when it was taken, where it is."""

    device: str
    snapshot_id: str
    timestamp: datetime
    month: str
    path: Path


def canonical_name(device: str) -> str:
    """``"fez"`` or ``"ibm_fez"`` -> ``"ibm_fez"``; anything unknown raises."""
    if not isinstance(device, str) or not device.strip():
        raise UnknownDeviceError("device", f"expected a device name, got {device!r}")
    name = device.strip().lower()
    if not name.startswith("ibm_"):
        name = f"ibm_{name}"
    if name not in DEVICES:
        raise UnknownDeviceError(
            "device", f"unknown device {device!r}; known: {', '.join(sorted(DEVICES))}"
        )
    return name


def device_spec(device: str) -> DeviceSpec:
    """The published facts of ``device`` (UnknownDeviceError when it is not in the catalog)."""
    return DEVICES[canonical_name(device)]


def snapshot_id(device: str, timestamp: datetime) -> str:
    """The stable id of a real snapshot: ``"ibm_fez@2025-03-30T03:08:13Z"``."""
    return f"{device}@{timestamp.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


@cache
def _all_files() -> tuple[SnapshotFile, ...]:
    files = []
    for month_dir in sorted(p for p in DATA_DIR.iterdir() if p.is_dir()):
        for path in sorted(month_dir.glob("*.csv")):
            match = _FILE_RE.match(path.name)
            if match is None or match["device"] not in DEVICES:
                continue
            stamp = datetime.fromisoformat(
                f"{match['date']}T{match['h']}:{match['m']}:{match['s']}+00:00"
            )
            files.append(
                SnapshotFile(
                    match["device"],
                    snapshot_id(match["device"], stamp),
                    stamp,
                    month_dir.name,
                    path,
                )
            )
    return tuple(sorted(files, key=lambda f: (f.device, f.timestamp)))


def snapshot_files(device: str) -> list[SnapshotFile]:
    """Every calibration CSV of ``device``, oldest first."""
    name = canonical_name(device)
    return [f for f in _all_files() if f.device == name]


def find_snapshot(device: str, snapshot: str | None = None) -> SnapshotFile:
    """Resolve a snapshot selector for ``device``.

    ``snapshot`` is ``None`` (the latest in ``LATEST_MONTH``), a month ``"MM_YYYY"`` (the
    latest taken that month) or a snapshot id from :func:`list_snapshots`.
    """
    files = snapshot_files(device)
    selector = LATEST_MONTH if snapshot is None else snapshot
    if _MONTH_RE.match(selector):
        in_month = [f for f in files if f.month == selector]
        if not in_month:
            raise InvalidInputError(
                "snapshot", f"{canonical_name(device)} has no calibration for month {selector}"
            )
        return in_month[-1]
    for f in files:
        if f.snapshot_id == selector:
            return f
    raise InvalidInputError(
        "snapshot",
        f"unknown snapshot {selector!r}; known: {', '.join(f.snapshot_id for f in files)}",
    )


def list_snapshots(device: str) -> list[str]:
    """Snapshot ids of ``device``, oldest first."""
    return [f.snapshot_id for f in snapshot_files(device)]
