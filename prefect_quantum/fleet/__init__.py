"""Simulated QPUs built from real IBM calibration snapshots.

Layer rule: this package imports qiskit, qiskit-aer, numpy, networkx, the standard library
and ``prefect_quantum.errors`` only.
"""

from .calibration import Calibration, QubitCalibration, load_calibration, parse_calibration
from .catalog import DEVICES, DeviceSpec, device_spec, list_snapshots
from .compliance import FALLBACK_KINDS, ComplianceRules
from .device import SimulatedQPU
from .execution import (
    Checkpoint,
    DeviceOfflineCheckpointError,
    Execution,
    Progress,
    chunk_seed,
    measured_qubits,
)
from .faults import FaultEvent, FaultModel, drift_calibration
from .fleet import DEFAULT_DEVICES, Fleet, FleetConfig
from .target import CalibratedBackend, build_target
from .transpile_cache import CacheInfo, transpile_cache_clear, transpile_cache_info

__all__ = [
    "DEFAULT_DEVICES",
    "DEVICES",
    "FALLBACK_KINDS",
    "CacheInfo",
    "CalibratedBackend",
    "Calibration",
    "Checkpoint",
    "ComplianceRules",
    "DeviceOfflineCheckpointError",
    "DeviceSpec",
    "Execution",
    "FaultEvent",
    "FaultModel",
    "Fleet",
    "FleetConfig",
    "Progress",
    "QubitCalibration",
    "SimulatedQPU",
    "build_target",
    "chunk_seed",
    "device_spec",
    "drift_calibration",
    "list_snapshots",
    "load_calibration",
    "measured_qubits",
    "parse_calibration",
    "transpile_cache_clear",
    "transpile_cache_info",
]
