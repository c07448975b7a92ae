"""The scheduler-backed reserver: leases from the durable store, events to Prefect.

:class:`SchedulerReserver` implements :class:`~prefect_quantum.reservation.Reserver` over
:class:`~prefect_quantum.store.SchedulerStore`, so every process and machine that loads the
same :class:`~prefect_quantum.blocks.QuantumScheduler` shares one fair-share queue.
Decisions run inside the store's calls ([S2]); this module only waits, translates and
emits events.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_quantum.errors import (
    ComplianceError,
    InvalidInputError,
    JobCancelledError,
    NoEligibleDeviceError,
    StoreBusyError,
)
from prefect_quantum.reservation import Lease, Outcome, ReservationRequest
from prefect_quantum.scheduling.model import DeviceState, FallbackMode, Request
from prefect_quantum.store import JobStatus

if TYPE_CHECKING:
    from prefect_quantum.blocks import QuantumScheduler
    from prefect_quantum.fleet import Fleet

T = TypeVar("T")
CLOPS_MODEL_LOG2_QV = 7.0  # log2(128): every device of the ICPP 2025 model has QV 128


def work_seconds(circuit_shots: int, reference_clops: float) -> float:
    """QPU-seconds of a batch at the reference speed, by SEEDS.md's CLOPS model."""
    return 100 * 10 * circuit_shots * CLOPS_MODEL_LOG2_QV / reference_clops / 60


LOCAL_SIMULATOR = "simulator:local"
"""The store's name for the fallback simulators, which run in the job's own process."""


def device_states(fleet: Fleet, max_age_s: float) -> list[DeviceState]:
    """The fleet as the policy core sees it: online, speed, calibration health, domains.

    When some compliance domain authorizes a fallback simulator, the local simulator is
    listed too, authorized for those domains, so the core may send their jobs there ([B5],
    [C2]); which kind (noisy or ideal) each domain allows is checked by the job itself.
    """
    now = datetime.now(UTC)
    rules = fleet.compliance
    states = []
    for qpu in fleet.devices.values():
        cal = qpu.calibration
        age = (now - qpu.calibrated_at).total_seconds()
        domains = frozenset(d for d, names in rules.devices.items() if qpu.name in names)
        states.append(DeviceState(
            name=qpu.name, online=qpu.online, num_qubits=qpu.num_qubits, speed=cal.clops,
            calibration_ok=age <= max_age_s, calibration_age_s=max(age, 0.0),
            est_fidelity=max(1e-6, 1.0 - cal.error_score), compliance_domains=domains,
        ))
    simulator_domains = frozenset(d for d, kinds in rules.fallbacks.items() if kinds)
    if simulator_domains:
        states.append(DeviceState(
            name=LOCAL_SIMULATOR, online=True, num_qubits=max(s.num_qubits for s in states),
            speed=max(s.speed for s in states), calibration_ok=True, calibration_age_s=0.0,
            est_fidelity=1.0, compliance_domains=simulator_domains, is_simulator=True,
        ))
    return states


def _key(d: DeviceState, managed: bool) -> tuple[object, ...]:
    """What a device's registration must agree on (its age keeps growing in the store)."""
    calibration = None if managed else d.calibration_ok
    return (d.online, d.num_qubits, d.speed, calibration, d.compliance_domains)


def emit_device_event(event: str, device: str, **payload: Any) -> None:
    """A Prefect event about a device (offline, drift, stale, recalibrated)."""
    from prefect.events import emit_event

    emit_event(
        event=f"prefect-quantum.device.{event}",
        resource={"prefect.resource.id": f"prefect-quantum.device.{device}",
                  "prefect.resource.name": device},
        payload=payload,
    )


def emit(event: str, job_id: str, tenant: str, device: str | None, **payload: Any) -> None:
    """A Prefect event about a job, with its tenant and device as related resources."""
    from prefect.events import emit_event

    related = [{"prefect.resource.id": f"prefect-quantum.tenant.{tenant}",
                "prefect.resource.role": "tenant"}]
    if device:
        related.append({"prefect.resource.id": f"prefect-quantum.device.{device}",
                        "prefect.resource.role": "device"})
    emit_event(
        event=f"prefect-quantum.job.{event}",
        resource={"prefect.resource.id": f"prefect-quantum.job.{job_id}",
                  "prefect.resource.name": job_id},
        related=related,
        payload=payload,
    )


@dataclass
class SchedulerReserver:
    """Reserves devices through the scheduler block's store, waiting by polling."""

    scheduler: QuantumScheduler
    poll_min_s: float = 0.02
    poll_max_s: float = 0.5
    store_patience_s: float = 30.0
    """How long a call is retried while the store is busy or unreachable."""

    def _patiently(self, call: Callable[[], T]) -> T:
        """`call()`, again while the store is busy or unreachable ([R1]: `StoreBusyError`),
        for up to `store_patience_s`. Only for calls that are safe to repeat: submit (by job
        id), poll, reads, heartbeats, checkpoints (replaced) and releases (once per lease)."""
        deadline = time.monotonic() + self.store_patience_s
        delay = self.poll_min_s
        while True:
            try:
                return call()
            except StoreBusyError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _sync_devices(self) -> None:
        """Write the fleet's devices to the store when they are missing or changed."""
        block = self.scheduler
        local = device_states(block.fleet, block.calibration_max_age_s)
        managed = block.calibration_managed  # then the calibration sweep owns the ages
        stored = {d.name: _key(d, managed) for d in block.store.devices()}
        changed = [d for d in local if stored.get(d.name) != _key(d, managed)]
        if changed:
            block.store.register_devices(changed)

    def core_request(self, request: ReservationRequest) -> Request:
        """The policy core's view of a reservation request."""
        block = self.scheduler
        if request.compliance_domain is not None:
            block.fleet.compliance.devices_for(request.compliance_domain)
        return Request(
            job_id=request.job_id,
            tenant=request.tenant,
            priority_class=block.priority_level(request.priority),
            submitted_at=time.time(),
            work_s=work_seconds(request.circuit_shots, block.policy().reference_clops),
            num_qubits=request.num_qubits,
            allowed_devices=frozenset(request.allowed or request.candidates),
            compliance_domain=request.compliance_domain,
            max_wait_s=request.max_wait_s,
            shots_total=request.shots,
            fallback=FallbackMode(request.fallback),
        )

    def reserve(self, request: ReservationRequest) -> Lease:
        """Submit (idempotent by job id) and wait for a grant or a fallback decision."""
        self._patiently(self._sync_devices)
        store = self.scheduler.tenant_view  # refuses another tenant's request [T3]
        core = self.core_request(request)
        status = self._patiently(lambda: store.submit(core, payload={"priority": request.priority}))
        emit("submitted", request.job_id, request.tenant, None, priority=request.priority,
             shots_done=status.shots_done)
        # [L6] A lease the job held before this call is an earlier run's: wait until it is
        # released or expires rather than share it (that run may only be paused).
        held = status.held_before
        delay = self.poll_min_s
        while status.state == "waiting" or (
            held is not None and status.state == "running" and status.lease_id == held
        ):
            time.sleep(delay)
            delay = min(delay * 1.5, self.poll_max_s)
            status = self._patiently(lambda: store.poll(request.job_id))
        return self._lease(request, status)

    def _lease(self, request: ReservationRequest, status: JobStatus) -> Lease:
        if status.state == "running" and status.lease_id and status.device:
            emit("resumed" if status.shots_done else "granted", request.job_id,
                 request.tenant, status.device, shots_done=status.shots_done)
            return Lease(status.lease_id, request.job_id, status.device, "qpu",
                         tenant=request.tenant)
        if status.state == "fallback":
            kind = status.fallback_kind or request.fallback
            reason = status.reason or "scheduler decided a fallback"
            emit("fell_back", request.job_id, request.tenant, None, reason=reason, kind=kind)
            return Lease(uuid.uuid4().hex, request.job_id, request.fallback_device,
                         "simulator-fallback", fallback=kind,  # type: ignore[arg-type]
                         fallback_reason=reason, tenant=request.tenant)
        if status.state == "rejected":
            raise ComplianceError(f"job {request.job_id} rejected: {status.reason}")
        if status.state == "completed":
            raise InvalidInputError(
                "options.job_id", f"job {request.job_id} has already completed"
            )
        if status.state == "cancelled":
            raise JobCancelledError(f"job {request.job_id}: {status.reason}")
        raise NoEligibleDeviceError(f"job {request.job_id} is {status.state}: {status.reason}")

    def heartbeat(self, lease: Lease, *, shots_done: int, qpu_seconds: float) -> bool:
        """Extend the lease; True when a higher class asked for the device ([P7])."""
        if lease.backend_kind != "qpu":
            return False
        beat = self._patiently(lambda: self.scheduler.tenant_view.heartbeat(
            lease.job_id, lease.lease_id, shots_done=shots_done,
            work_done_s=max(qpu_seconds, 0.0),
        ))
        return beat.preempt_requested

    def save_checkpoint(self, lease: Lease, data: dict[str, Any]) -> None:
        """Store the partial counts under the live lease ([L3])."""
        if lease.backend_kind == "qpu":
            self._patiently(lambda: self.scheduler.tenant_view.save_checkpoint(
                lease.job_id, lease.lease_id, data))

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The job's checkpoint from the store."""
        return self._patiently(lambda: self.scheduler.tenant_view.load_checkpoint(job_id))

    def release(
        self, lease: Lease, *, qpu_seconds: float, outcome: Outcome, shots_done: int
    ) -> None:
        """Release the lease (or finish a fallback) and emit the matching event."""
        store = self.scheduler.store
        tenant = lease.tenant
        if lease.backend_kind != "qpu":
            self.scheduler.tenant_view.finish_fallback(
                lease.job_id, outcome="failed" if outcome == "failed" else "completed",
                shots_done=shots_done,
            )
            emit("completed", lease.job_id, tenant, None, simulated=True)
            return
        if outcome == "failed":  # first, so the release's pass does not re-grant it
            online = self.scheduler.fleet.get(lease.device).online
            self._patiently(lambda: store.set_device_online(lease.device, online))
        self._patiently(lambda: self.scheduler.tenant_view.release(
            lease.job_id, lease.lease_id, qpu_seconds=max(qpu_seconds, 0.0), outcome=outcome,
            shots_done=shots_done))
        emit(outcome, lease.job_id, tenant, lease.device, shots_done=shots_done,
             qpu_seconds=qpu_seconds)

    def fall_back(self, request: ReservationRequest, reason: str) -> Lease:
        """Retries are exhausted: the store decides the fallback on its next pass ([B1])."""
        return self.reserve(request)


@dataclass
class SchedulerSession:
    """A lease held across the iterations of a variational loop ([L4])."""

    reserver: SchedulerReserver
    request: ReservationRequest
    max_duration_s: float
    idle_timeout_s: float
    lease: Lease | None = None
    iterations: int = 0
    pauses: int = 0

    def acquire(self) -> Lease:
        """Open (or re-open after a preemption) the session and wait for its device."""
        store = self.reserver.scheduler.tenant_view  # [T3]
        self.reserver._sync_devices()
        status = store.open_session(
            self.reserver.core_request(self.request),
            max_duration_s=self.max_duration_s, idle_timeout_s=self.idle_timeout_s,
        )
        delay = self.reserver.poll_min_s
        while status.state == "waiting":
            time.sleep(delay)
            delay = min(delay * 1.5, self.reserver.poll_max_s)
            status = store.poll(self.request.job_id)
        self.lease = self.reserver._lease(self.request, status)
        return self.lease

    def begin_iteration(self) -> Lease:
        """The lease for the next iteration; yields the device first if preemption is asked."""
        if self.lease is None:
            return self.acquire()
        if self.lease.backend_kind == "qpu":
            beat = self.reserver.scheduler.tenant_view.touch_session(
                self.lease.job_id, self.lease.lease_id, idle=False
            )
            if beat.preempt_requested:  # [L4] preemptible between iterations only
                self.reserver.scheduler.tenant_view.close_session(
                    self.lease.job_id, self.lease.lease_id, outcome="preempted"
                )
                self.pauses += 1
                self.lease = None
                return self.acquire()
        return self.lease

    def end_iteration(self) -> None:
        """Mark the session idle between iterations (starts its idle timeout)."""
        self.iterations += 1
        if self.lease is not None and self.lease.backend_kind == "qpu":
            self.reserver.scheduler.tenant_view.touch_session(
                self.lease.job_id, self.lease.lease_id, idle=True
            )

    def close(self) -> None:
        """Release the session's device; its time is charged to the tenant."""
        if self.lease is not None and self.lease.backend_kind == "qpu":
            self.reserver.scheduler.tenant_view.close_session(
                self.lease.job_id, self.lease.lease_id)
        self.lease = None


@contextmanager
def open_session(
    reserver: SchedulerReserver, request: ReservationRequest, *, max_duration_s: float,
    idle_timeout_s: float,
) -> Iterator[SchedulerSession]:
    """A session for the duration of the block."""
    if not (max_duration_s > 0 and math.isfinite(max_duration_s)):
        raise InvalidInputError("max_duration_s", "must be a finite number > 0")
    session = SchedulerSession(reserver, request, max_duration_s, idle_timeout_s)
    try:
        yield session
    finally:
        session.close()
