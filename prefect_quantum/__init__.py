"""prefect-quantum: hybrid quantum-classical jobs as Prefect flows on a shared QPU fleet.

Names are imported lazily, so ``import prefect_quantum.scheduling`` (the pure policy
core) loads neither Prefect nor Qiskit.

>>> from prefect_quantum import hybrid_job  # doctest: +SKIP
>>> hybrid_job(["ghz:5", "bell"], shots=4000, mitigation="zne")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prefect_quantum.errors import (
    PermanentError,
    PrefectQuantumError,
    TransientError,
)

__version__ = "0.1.0"

_LAZY = {
    "hybrid_job": "prefect_quantum.flows",
    "JobOptions": "prefect_quantum.job",
    "JobRequest": "prefect_quantum.job",
    "JobResult": "prefect_quantum.results",
    "Fleet": "prefect_quantum.fleet",
    "FleetConfig": "prefect_quantum.fleet",
    "QuantumFleet": "prefect_quantum.blocks",
    "QuantumScheduler": "prefect_quantum.blocks",
    "QuantumEstimator": "prefect_quantum.primitives",
    "QuantumSampler": "prefect_quantum.primitives",
    "PrimitiveOptions": "prefect_quantum.primitives",
}

__all__ = [
    "Fleet",
    "FleetConfig",
    "JobOptions",
    "JobRequest",
    "JobResult",
    "PermanentError",
    "PrefectQuantumError",
    "PrimitiveOptions",
    "QuantumEstimator",
    "QuantumFleet",
    "QuantumSampler",
    "QuantumScheduler",
    "TransientError",
    "hybrid_job",
]

if TYPE_CHECKING:
    from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
    from prefect_quantum.fleet import Fleet, FleetConfig
    from prefect_quantum.flows import hybrid_job
    from prefect_quantum.job import JobOptions, JobRequest
    from prefect_quantum.primitives import PrimitiveOptions, QuantumEstimator, QuantumSampler
    from prefect_quantum.results import JobResult


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prefect_quantum' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    # inspect.getmembers (and so `prefect block register -m prefect_quantum`) sees the
    # lazy names too.
    return sorted(set(globals()) | set(_LAZY))
