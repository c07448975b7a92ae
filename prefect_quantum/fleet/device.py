"""A simulated QPU: one calibration snapshot as a Qiskit Target, an Aer noise model, a clock."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from qiskit import transpile as qiskit_transpile
from qiskit.circuit import QuantumCircuit
from qiskit.transpiler import Target
from qiskit.transpiler.exceptions import TranspilerError
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from prefect_quantum.errors import CircuitTooWideError, InvalidInputError

from .calibration import Calibration
from .execution import (
    Checkpoint,
    DeviceOfflineCheckpointError,
    Execution,
    Progress,
    chunk_seed,
    merge_counts,
    validate_counts_request,
)
from .noise import DeviceNoise
from .target import build_target, ideal_target
from .transpile_cache import TRANSPILE_CACHE

# Largest circuit (active qubits) run as a density matrix when noisy: one density-matrix
# evolution serves every shot, and below this size it beats per-shot trajectories.
DENSITY_MATRIX_MAX_QUBITS = 10
_TARGET_VERSION = "1"  # bump when build_target changes, so fingerprints change with it
_NOISE_CACHE_SIZE = 32
_noise_by_fingerprint: OrderedDict[str, DeviceNoise] = OrderedDict()
_noise_lock = threading.Lock()


def _shared_noise(fingerprint: str, target: Target) -> DeviceNoise:
    """One DeviceNoise per target, shared by every SimulatedQPU with that fingerprint."""
    with _noise_lock:
        noise = _noise_by_fingerprint.get(fingerprint)
        if noise is None:
            noise = _noise_by_fingerprint[fingerprint] = DeviceNoise(target)
        _noise_by_fingerprint.move_to_end(fingerprint)
        while len(_noise_by_fingerprint) > _NOISE_CACHE_SIZE:
            _noise_by_fingerprint.popitem(last=False)
        return noise


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInputError(field, "must be timezone-aware")
    return value.astimezone(UTC)


class SimulatedQPU:
    """A device (``kind="qpu"``) or simulator built from one calibration snapshot.

    ``calibrated_at`` is when this calibration was installed in the simulated fleet (age is
    measured from it; the IBM source timestamps are from 2025). ``time_scale`` is the wall
    seconds slept per simulated QPU second (0 never sleeps). ``ideal`` removes all noise; an
    ideal simulator also accepts circuits transpiled for any device up to its width.
    """

    def __init__(
        self,
        calibration: Calibration,
        *,
        kind: Literal["qpu", "simulator"] = "qpu",
        calibrated_at: datetime | None = None,
        online: bool = True,
        time_scale: float = 0.0,
        ideal: bool = False,
        name: str | None = None,
    ) -> None:
        if kind not in ("qpu", "simulator"):
            raise InvalidInputError("kind", f"must be 'qpu' or 'simulator', got {kind!r}")
        if not time_scale >= 0:
            raise InvalidInputError("time_scale", f"must be >= 0, got {time_scale!r}")
        self.kind = kind
        self.ideal = ideal
        self.time_scale = float(time_scale)
        self._calibration = calibration
        self.calibrated_at = _utc(calibrated_at or datetime.now(UTC), "calibrated_at")
        self.name = name or self._default_name()
        self._online = True
        self.online = online
        self._simulator = AerSimulator()
        self._outage_lock = threading.Lock()
        self._outage_after_chunks: int | None = None
        self._outage_notes: list[str] = []

    def _default_name(self) -> str:
        if self.kind == "qpu":
            return self._calibration.device
        return "simulator:ideal" if self.ideal else f"simulator:{self._calibration.device}"

    def __repr__(self) -> str:
        state = "online" if self.online else "offline"
        return f"<SimulatedQPU {self.name} {self.kind} {self.snapshot_id} {state}>"

    # --- state -------------------------------------------------------------------------

    @property
    def calibration(self) -> Calibration:
        """The installed calibration snapshot."""
        return self._calibration

    def recalibrate(
        self, calibration: Calibration, *, calibrated_at: datetime | None = None
    ) -> None:
        """Install another snapshot of the same device (drift or a new real calibration)."""
        if calibration.device != self._calibration.device:
            raise InvalidInputError(
                "calibration", f"{calibration.device} cannot replace {self._calibration.device}"
            )
        self._calibration = calibration
        self.calibrated_at = _utc(calibrated_at or datetime.now(UTC), "calibrated_at")
        for cached in ("target", "fingerprint"):
            self.__dict__.pop(cached, None)

    @property
    def snapshot_id(self) -> str:
        """What results are tagged with: the calibration snapshot, or ``"ideal"``."""
        return "ideal" if self.ideal else self._calibration.snapshot_id

    @property
    def online(self) -> bool:
        """Whether the device accepts work; simulators are always online."""
        return self._online

    @online.setter
    def online(self, value: bool) -> None:
        if self.kind == "simulator" and not value:
            raise InvalidInputError("online", f"{self.name}: simulators never go offline")
        self._online = bool(value)

    def age(self, now: datetime | None = None) -> timedelta:
        """Time since the installed calibration was taken in the simulated fleet."""
        return _utc(now or datetime.now(UTC), "now") - self.calibrated_at

    def schedule_outage(self, after_chunks: int) -> None:
        """Go offline after ``after_chunks`` chunks of the next execution (fault injection)."""
        with self._outage_lock:
            self._outage_after_chunks = max(1, int(after_chunks))

    def drain_outage_notes(self) -> list[str]:
        """Descriptions of scheduled outages that fired since the last call."""
        with self._outage_lock:
            notes, self._outage_notes = self._outage_notes, []
            return notes

    def _fire_outage(self, chunks: int, shots_done: int) -> None:
        with self._outage_lock:
            if self._outage_after_chunks is None or chunks < self._outage_after_chunks:
                return
            self._outage_after_chunks = None
            self._online = False
            self._outage_notes.append(f"went offline mid-job after {shots_done} shots")

    # --- compilation -------------------------------------------------------------------

    @property
    def num_qubits(self) -> int:
        """Physical qubits of the device."""
        return self.target.num_qubits

    @cached_property
    def target(self) -> Target:
        """The native instruction set with calibrated errors and durations."""
        if self.ideal and self.kind == "simulator":
            return ideal_target(self._calibration.num_qubits)
        return build_target(self._calibration)

    @cached_property
    def fingerprint(self) -> str:
        """Stable id of the Target (device + snapshot content), used as a cache key."""
        if self.ideal and self.kind == "simulator":
            return f"ideal:{self._calibration.num_qubits}"
        cal = self._calibration
        content = repr(
            (
                _TARGET_VERSION,
                cal.snapshot_id,
                cal.two_qubit_gate,
                cal.single_qubit_gate_ns,
                cal.qubits,
                sorted(cal.couplers.items()),
            )
        )
        return f"{cal.device}:{hashlib.sha256(content.encode()).hexdigest()[:16]}"

    def transpile(
        self, circuits: Sequence[QuantumCircuit], *, seed: int, optimization_level: int = 1
    ) -> list[QuantumCircuit]:
        """Transpile for this device, through the process-wide cache.

        The results keep each logical circuit's clbits and ``name``.
        """
        circuits = list(circuits)
        if optimization_level not in (0, 1, 2, 3):
            raise InvalidInputError("optimization_level", "must be 0, 1, 2 or 3")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidInputError("seed", f"must be an integer, got {seed!r}")
        for i, circuit in enumerate(circuits):
            if not isinstance(circuit, QuantumCircuit):
                raise InvalidInputError("circuits", f"item {i} is not a QuantumCircuit")
            self._check_width(circuit, i)

        def run(batch: list[QuantumCircuit]) -> list[QuantumCircuit]:
            try:
                return list(
                    qiskit_transpile(
                        batch,
                        target=self.target,
                        seed_transpiler=seed,
                        optimization_level=optimization_level,
                        num_processes=1,
                    )
                )
            except TranspilerError as exc:
                raise InvalidInputError(
                    "circuits", f"cannot transpile for {self.name}: {exc}"
                ) from exc

        return TRANSPILE_CACHE.get_or_transpile(
            circuits, self.fingerprint, seed, optimization_level, run
        )

    def _check_width(self, circuit: QuantumCircuit, index: int) -> None:
        if circuit.num_qubits > self.num_qubits:
            raise CircuitTooWideError(
                "circuits",
                f"circuit {index} ({circuit.name}) has {circuit.num_qubits} qubits; "
                f"{self.name} has {self.num_qubits}",
            )

    def _used_qubits(self, circuits: Sequence[QuantumCircuit]) -> list[set[int]]:
        """Physical qubits each circuit acts on; rejects anything the Target lacks."""
        target = self.target
        used = []
        for i, circuit in enumerate(circuits):
            self._check_width(circuit, i)
            qubits: set[int] = set()
            for instruction in circuit.data:
                name = instruction.operation.name
                if name == "barrier":
                    continue
                qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
                if not target.instruction_supported(name, qargs):
                    raise InvalidInputError(
                        "circuits",
                        f"circuit {i} ({circuit.name}) is not transpiled for {self.name}: "
                        f"{name} on qubits {list(qargs)} is not a working native instruction",
                    )
                qubits.update(qargs)
            used.append(qubits)
        return used

    # --- noise and time ----------------------------------------------------------------

    def noise_model(self, qubits: Iterable[int] | None = None) -> NoiseModel:
        """Gate depolarizing + thermal relaxation + asymmetric readout, on ``qubits`` only.

        ``None`` gives the full-device model. Models are cached and shared: do not mutate.
        """
        return _shared_noise(self.fingerprint, self.target).model(qubits)

    def qpu_seconds(self, circuit_shots: int) -> float:
        """ICPP 2025 time model: 100 x 10 x S x log2(QV) / CLOPS / 60, S = circuit-shots."""
        if circuit_shots < 0:
            raise InvalidInputError("circuit_shots", f"must be >= 0, got {circuit_shots}")
        cal = self._calibration
        return 100 * 10 * circuit_shots * math.log2(cal.quantum_volume) / cal.clops / 60

    # --- execution ---------------------------------------------------------------------

    def _run_options(self, used: list[set[int]]) -> dict[str, Any]:
        options: dict[str, Any] = {"max_parallel_experiments": 0}
        if self.ideal:
            return options
        options["noise_model"] = self.noise_model(set().union(*used))
        if max(len(q) for q in used) <= DENSITY_MATRIX_MAX_QUBITS:
            options["method"] = "density_matrix"
        return options

    def execute(
        self,
        circuits: Sequence[QuantumCircuit],
        shots: int,
        *,
        seed: int,
        chunk_shots: int = 1000,
        should_stop: Callable[[Progress], bool] | None = None,
        resume: Checkpoint | None = None,
    ) -> Execution:
        """Run already-transpiled ``circuits`` for ``shots`` each, in chunks of ``chunk_shots``.

        Each chunk is one Aer ``run()`` of all circuits, seeded by ``chunk_seed(seed, start)``,
        so resuming from a checkpoint reproduces the uninterrupted counts. After each chunk
        but the last, ``should_stop(progress)`` returning True ends the call with
        ``stopped=True``. If the device is or goes offline, DeviceOfflineCheckpointError (a
        DeviceOfflineError) carries the counts so far in ``.checkpoint``.
        """
        circuits = list(circuits)
        validate_counts_request(circuits, shots, chunk_shots, seed)
        used = self._used_qubits(circuits)
        counts: list[dict[str, int]] = [{} for _ in circuits]
        done, seconds = 0, 0.0
        if resume is not None:
            resume.validate(len(circuits), shots)
            counts = [dict(c) for c in resume.counts]
            done, seconds = resume.shots_done, resume.qpu_seconds
        options = self._run_options(used) if done < shots else {}
        chunks = 0

        def result(stopped: bool) -> Execution:
            return Execution(
                counts, done, shots, seconds, chunks, stopped, self.name, self.snapshot_id
            )

        while done < shots:
            if not self.online:
                raise DeviceOfflineCheckpointError(self.name, result(True).checkpoint())
            n = min(chunk_shots, shots - done)
            job = self._simulator.run(
                circuits, shots=n, seed_simulator=chunk_seed(seed, done), **options
            )
            outcome = job.result()
            if not outcome.success:
                raise InvalidInputError("circuits", f"simulation failed: {outcome.status}")
            for i in range(len(circuits)):
                merge_counts(counts[i], outcome.get_counts(i))
            chunk_seconds = self.qpu_seconds(n * len(circuits))
            done, seconds, chunks = done + n, seconds + chunk_seconds, chunks + 1
            if self.time_scale > 0:
                time.sleep(chunk_seconds * self.time_scale)
            self._fire_outage(chunks, done)
            if (
                done < shots
                and should_stop is not None
                and should_stop(Progress(done, shots, chunks, seconds, counts))
            ):
                return result(True)
        return result(False)
