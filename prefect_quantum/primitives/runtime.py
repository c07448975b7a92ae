"""What both primitives share: the backend of each run, the scheduler session, the worker.

Each ``run()`` is one iteration: with a scheduler, ``begin_iteration`` on the session the
primitive holds (it may pause there while a higher class uses the device), the batch, then
``end_iteration``; without one, the configured device directly.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.fleet import Fleet, SimulatedQPU

from .cache import CompileCache
from .job import QuantumJob
from .options import IDEAL, PrimitiveOptions

if TYPE_CHECKING:
    from prefect_quantum.scheduler import SchedulerSession

T = TypeVar("T")

_default_fleet: Fleet | None = None
_default_fleet_lock = threading.Lock()


def default_fleet() -> Fleet:
    """The process-wide default fleet, built on first use."""
    global _default_fleet
    with _default_fleet_lock:
        if _default_fleet is None:
            _default_fleet = Fleet.default()
        return _default_fleet


def run_seed(seed: int | None, run_index: int) -> int:
    """The execution seed of run ``run_index`` (fresh randomness when ``seed`` is None)."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "big")
    digest = hashlib.sha256(f"prefect-quantum-primitive:{seed}:{run_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Backend:
    """Where one run compiles for (``target``) and executes (``runner``)."""

    target: SimulatedQPU
    runner: SimulatedQPU
    kind: str
    """``qpu``, ``simulator`` (asked for) or ``simulator-fallback`` (decided by the scheduler)."""
    fallback_reason: str | None = None


@dataclass(frozen=True)
class Iteration:
    """One run as the session saw it."""

    backend: Backend
    index: int
    seed: int
    paused: bool
    pauses: int
    wait_s: float
    job_id: str | None

    def metadata(self, mitigation: str) -> dict[str, Any]:
        """What every result of this run is tagged with."""
        runner = self.backend.runner
        return {
            "device": runner.name,
            "compiled_for": self.backend.target.name,
            "backend_kind": self.backend.kind,
            "fallback_reason": self.backend.fallback_reason,
            "calibration_snapshot": runner.snapshot_id,
            "calibrated_at": runner.calibrated_at.isoformat(),
            "mitigation": mitigation,
            "iteration": self.index,
            "seed": self.seed,
            "paused": self.paused,
            "pauses": self.pauses,
            "wait_s": self.wait_s,
            "session_job_id": self.job_id,
        }


class Runtime:
    """The worker thread, the optional session and the compile cache of one primitive."""

    def __init__(self, options: PrimitiveOptions, name: str) -> None:
        self.options = options
        self.cache = CompileCache()
        self.run_count = 0
        """Runs started so far; run ``k`` is seeded from ``(seed, k)``. Set it to resume."""
        self._prefix = f"{name}-{id(self):x}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._prefix)
        self._session_cm: AbstractContextManager[SchedulerSession] | None = None
        self._session: SchedulerSession | None = None
        self._closed = False

    @property
    def fleet(self) -> Fleet:
        """The devices: the scheduler's, the given fleet, or the default fleet."""
        if self.options.scheduler is not None:
            return self.options.scheduler.fleet
        return self.options.fleet or default_fleet()

    @property
    def session(self) -> SchedulerSession | None:
        """The scheduler session, once the first run opened it."""
        return self._session

    def submit(self, fn: Callable[..., T], *args: Any) -> QuantumJob[T]:
        """Queue ``fn(*args)`` on the worker thread."""
        if self._closed:
            raise RuntimeError("this primitive is closed")
        return QuantumJob(self._executor.submit(fn, *args))

    @contextmanager
    def iteration(self, num_qubits: int, shots: int, num_circuits: int) -> Iterator[Iteration]:
        """One run: its backend (after any pause of the session), then end of iteration."""
        index = self.run_count
        self.run_count += 1
        seed = run_seed(self.options.seed, index)
        if self.options.scheduler is None:
            yield Iteration(self._direct_backend(num_qubits), index, seed, False, 0, 0.0, None)
            return
        session = self._open_session(num_qubits, shots, num_circuits)
        before, start = session.pauses, time.perf_counter()
        lease = session.begin_iteration()
        wait_s = time.perf_counter() - start
        try:
            yield Iteration(
                self._leased_backend(lease.device, lease.backend_kind, lease.fallback,
                                     lease.fallback_reason),
                index, seed, session.pauses > before, session.pauses, wait_s, lease.job_id,
            )
        finally:
            session.end_iteration()

    def _open_session(self, num_qubits: int, shots: int, num_circuits: int) -> SchedulerSession:
        if self._session is None:
            scheduler = self.options.scheduler
            assert scheduler is not None
            device = self.options.device
            devices = None if device is None else [_device_name(device)]
            cm = scheduler.session(
                tenant=self.options.tenant, priority=self.options.priority,
                num_qubits=num_qubits, shots=shots, circuits_per_iteration=num_circuits,
                devices=devices, max_duration_s=self.options.session_max_duration_s,
                idle_timeout_s=self.options.session_idle_timeout_s,
            )
            self._session = cm.__enter__()
            self._session_cm = cm
        return self._session

    def _leased_backend(
        self, device: str, kind: str, fallback: str, reason: str | None
    ) -> Backend:
        fleet = self.fleet
        qpu = fleet.get(device)
        if kind == "qpu":
            return Backend(qpu, qpu, "qpu")
        runner = fleet.ideal_simulator() if fallback == "ideal" else fleet.last_good_simulator(
            device)
        return Backend(qpu, runner, "simulator-fallback", reason)

    def _direct_backend(self, num_qubits: int) -> Backend:
        device = self.options.device
        if isinstance(device, SimulatedQPU):
            return Backend(device, device, device.kind)
        fleet = self.fleet
        if device == IDEAL:
            ideal = fleet.ideal_simulator()
            return Backend(ideal, ideal, "simulator")
        if device is not None:
            qpu = fleet.get(device)
            return Backend(qpu, qpu, qpu.kind)
        ranked = sorted(
            (d for d in fleet.online() if d.num_qubits >= num_qubits),
            key=lambda d: (d.calibration.error_score, d.name),
        )
        if not ranked:
            raise InvalidInputError("device", f"no online device has {num_qubits} qubits")
        return Backend(ranked[0], ranked[0], ranked[0].kind)

    def close(self) -> None:
        """Wait for queued runs, then release the session's device."""
        if self._closed:
            return
        self._closed = True
        # Waiting is impossible from the worker itself (a finalizer may run there).
        on_worker = threading.current_thread().name.startswith(self._prefix)
        self._executor.shutdown(wait=not on_worker)
        if self._session_cm is not None:
            cm, self._session_cm, self._session = self._session_cm, None, None
            cm.__exit__(None, None, None)


def _device_name(device: str | SimulatedQPU) -> str:
    if isinstance(device, SimulatedQPU):
        return device.name
    if device == IDEAL:
        raise InvalidInputError("device", "the scheduler leases QPUs; use it without 'ideal'")
    return device
