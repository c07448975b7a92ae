"""Reserving a device for a job: request -> lease -> release.

:class:`Reserver` is the interface the ``reserve`` and ``execute`` tasks use. This module
holds the in-process implementation used when no scheduler is configured: one job per
device, waiting up to the job's ``max_wait_s``, then a fallback lease on a simulator. The
durable, fair-share implementation is :class:`prefect_quantum.QuantumScheduler`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

BackendKind = Literal["qpu", "simulator-fallback"]
Outcome = Literal["completed", "preempted", "failed"]


@dataclass(frozen=True)
class ReservationRequest:
    """What a job asks of the reserver: its ranked devices and how long it may wait."""

    job_id: str
    tenant: str
    priority: str
    candidates: tuple[str, ...]
    """Eligible devices, best first; empty when none passed the calibration check."""
    max_wait_s: float
    fallback: Literal["noisy", "ideal", "none"]
    fallback_device: str
    """The device whose last good calibration the noisy fallback simulator uses."""
    no_candidate_reason: str = ""
    num_qubits: int = 1
    shots: int = 1
    circuit_shots: int = 1
    """Shots summed over every circuit of the batch: the job's size in the CLOPS model."""
    compliance_domain: str | None = None
    allowed: tuple[str, ...] = ()
    """Every device the job may wait for, offline ones included (the scheduler knows when
    they return, [B2]); ``candidates`` when empty."""


@dataclass(frozen=True)
class Lease:
    """The right to run one job on one backend until released."""

    lease_id: str
    job_id: str
    device: str
    backend_kind: BackendKind
    fallback: Literal["noisy", "ideal", "none"] = "noisy"
    fallback_reason: str | None = None
    tenant: str = ""


@runtime_checkable
class Reserver(Protocol):
    """Grants leases on devices; implemented in-process here and durably by the scheduler."""

    def reserve(self, request: ReservationRequest) -> Lease:
        """Block until a device is leased or a fallback is decided."""
        ...

    def heartbeat(self, lease: Lease, *, shots_done: int, qpu_seconds: float) -> bool:
        """Keep the lease alive; True when the job must checkpoint and yield its device."""
        ...

    def save_checkpoint(self, lease: Lease, data: dict[str, Any]) -> None:
        """Store the partial counts of the job, so it can resume elsewhere or later."""
        ...

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The job's last checkpoint, if any."""
        ...

    def release(
        self, lease: Lease, *, qpu_seconds: float, outcome: Outcome, shots_done: int
    ) -> None:
        """Give the device back and charge the QPU time used under this lease."""
        ...

    def fall_back(self, request: ReservationRequest, reason: str) -> Lease:
        """Decide a simulator fallback for the job now (its retries are exhausted)."""
        ...


def fallback_lease(request: ReservationRequest, reason: str) -> Lease:
    """A lease on the request's fallback simulator, saying why."""
    from prefect_quantum.errors import NoEligibleDeviceError

    if request.fallback == "none":
        raise NoEligibleDeviceError(f"job {request.job_id}: {reason}, and fallback is 'none'")
    return Lease(
        lease_id=uuid.uuid4().hex,
        job_id=request.job_id,
        device=request.fallback_device,
        backend_kind="simulator-fallback",
        fallback=request.fallback,
        fallback_reason=reason,
        tenant=request.tenant,
    )


class LocalReserver:
    """One job per device within this process; waits up to ``max_wait_s``, then falls back."""

    def __init__(self) -> None:
        self._busy: dict[str, str] = {}
        self._cond = threading.Condition()
        self._checkpoints: dict[str, dict[str, Any]] = {}
        self.usage_s: dict[str, float] = {}

    def reserve(self, request: ReservationRequest) -> Lease:
        """Lease the first free candidate, waiting for one to free up within ``max_wait_s``."""
        if not request.candidates:
            return fallback_lease(request, request.no_candidate_reason or "no eligible device")
        deadline = time.monotonic() + request.max_wait_s
        with self._cond:
            while True:
                free = _first_free(request.candidates, self._busy)
                if free is not None:
                    lease = Lease(
                        uuid.uuid4().hex, request.job_id, free, "qpu", tenant=request.tenant
                    )
                    self._busy[free] = lease.lease_id
                    return lease
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return fallback_lease(
                        request, f"no QPU free within max_wait_s={request.max_wait_s:g}"
                    )
                self._cond.wait(remaining)

    def heartbeat(self, lease: Lease, *, shots_done: int, qpu_seconds: float) -> bool:
        """The in-process reserver never preempts."""
        return False

    def save_checkpoint(self, lease: Lease, data: dict[str, Any]) -> None:
        """Keep the checkpoint in memory."""
        self._checkpoints[lease.job_id] = dict(data)

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The checkpoint kept in memory, if any."""
        return self._checkpoints.get(job_id)

    def release(
        self, lease: Lease, *, qpu_seconds: float, outcome: Outcome = "completed",
        shots_done: int = 0,
    ) -> None:
        """Free the device and wake waiting jobs."""
        with self._cond:
            if self._busy.get(lease.device) == lease.lease_id:
                del self._busy[lease.device]
            self.usage_s[lease.job_id] = self.usage_s.get(lease.job_id, 0.0) + qpu_seconds
            if outcome == "completed":
                self._checkpoints.pop(lease.job_id, None)
            self._cond.notify_all()

    def fall_back(self, request: ReservationRequest, reason: str) -> Lease:
        """A fallback lease, decided locally."""
        return fallback_lease(request, reason)


def _first_free(candidates: Sequence[str], busy: dict[str, str]) -> str | None:
    return next((c for c in candidates if c not in busy), None)
