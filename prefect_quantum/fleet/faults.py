"""Seeded, reproducible faults: outages, mid-job outages and calibration drift."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Literal

import numpy as np

from prefect_quantum.errors import InvalidInputError

from .calibration import BROKEN_ERROR, Calibration, QubitCalibration, load_calibration
from .catalog import snapshot_files
from .device import SimulatedQPU
from .fleet import Fleet

_DRIFT_MARK = "+drift"


@dataclass(frozen=True)
class FaultEvent:
    """Something the fault model did to a device."""

    kind: Literal["offline", "online", "drift"]
    device: str
    detail: str


def drift_calibration(
    calibration: Calibration,
    rng: np.random.Generator,
    scale: float,
    snapshot_id: str,
    timestamp: datetime,
) -> Calibration:
    """A copy with every error scaled by its own log-normal factor exp(N(0, scale)).

    T1 and T2 shrink or grow by a per-qubit factor of the same law; probabilities stay in
    [0, 1]; a coupler whose error reaches 1 becomes broken, and broken ones stay broken.
    """

    def factor() -> float:
        return math.exp(rng.normal(0.0, scale))

    def clamp(p: float) -> float:
        return min(max(p, 0.0), 1.0)

    qubits = []
    for q in calibration.qubits:
        gate, readout, coherence = factor(), factor(), factor()
        qubits.append(
            QubitCalibration(
                t1_us=q.t1_us / coherence,
                t2_us=q.t2_us / coherence,
                prob_meas1_prep0=clamp(q.prob_meas1_prep0 * readout),
                prob_meas0_prep1=clamp(q.prob_meas0_prep1 * readout),
                readout_length_ns=q.readout_length_ns,
                sx_error=clamp(q.sx_error * gate),
                x_error=clamp(q.x_error * gate),
                id_error=clamp(q.id_error * gate),
                operational=q.operational,
            )
        )
    couplers = {}
    for pair, (error, duration) in sorted(calibration.couplers.items()):
        scaled = error * factor()
        broken = error >= BROKEN_ERROR or scaled >= BROKEN_ERROR
        couplers[pair] = (BROKEN_ERROR if broken else scaled, duration)
    return replace(
        calibration,
        snapshot_id=snapshot_id,
        timestamp=timestamp,
        qubits=tuple(qubits),
        couplers=MappingProxyType(couplers),
    )


def real_snapshot_id(calibration: Calibration) -> str:
    """The real snapshot a (possibly drifted) calibration descends from."""
    return calibration.snapshot_id.split(_DRIFT_MARK, 1)[0]


def _probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidInputError(name, f"must be within [0, 1], got {value!r}")
    return float(value)


class FaultModel:
    """Injects faults into a fleet, reproducibly for a given seed and sequence of steps.

    Per step and per QPU (in name order, each from its own seeded stream):

    - an online device goes offline with ``offline_probability``; a device this model took
      offline comes back with ``recovery_probability``;
    - with ``offline_mid_job_probability`` an online device is armed to go offline after
      the 1st to 3rd chunk of its next execution (reported by the following step);
    - when ``drift_scale`` > 0, with ``drift_probability`` its calibration is replaced by a
      drifted copy (see :func:`drift_calibration`);
    - with ``advance_probability`` it moves to the next real monthly snapshot, if any.
    """

    def __init__(
        self,
        seed: int,
        *,
        offline_probability: float = 0.0,
        drift_scale: float = 0.0,
        offline_mid_job_probability: float = 0.0,
        recovery_probability: float = 0.5,
        drift_probability: float = 0.25,
        advance_probability: float = 0.0,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError("seed", f"must be a non-negative integer, got {seed!r}")
        if not drift_scale >= 0:
            raise InvalidInputError("drift_scale", f"must be >= 0, got {drift_scale!r}")
        self.seed = seed
        self.drift_scale = float(drift_scale)
        self.offline_probability = _probability("offline_probability", offline_probability)
        self.offline_mid_job_probability = _probability(
            "offline_mid_job_probability", offline_mid_job_probability
        )
        self.recovery_probability = _probability("recovery_probability", recovery_probability)
        self.drift_probability = _probability("drift_probability", drift_probability)
        self.advance_probability = _probability("advance_probability", advance_probability)
        self._steps = 0
        self._taken_offline: set[str] = set()

    def step(self, fleet: Fleet, now: datetime) -> list[FaultEvent]:
        """Advance one step at simulated time ``now``; return what happened."""
        self._steps += 1
        events: list[FaultEvent] = []
        for name in sorted(fleet.devices):
            device = fleet.devices[name]
            if device.kind != "qpu":
                continue
            rng = np.random.default_rng([self.seed, self._steps, zlib.crc32(name.encode())])
            go_down, come_up, arm, arm_after, drift, advance = rng.random(6)
            notes = device.drain_outage_notes()
            for note in notes:
                self._taken_offline.add(name)
                events.append(FaultEvent("offline", name, note))
            if device.online and go_down < self.offline_probability:
                device.online = False
                self._taken_offline.add(name)
                events.append(FaultEvent("offline", name, "outage"))
            elif (
                not device.online
                and not notes
                and name in self._taken_offline
                and come_up < self.recovery_probability
            ):
                device.online = True
                self._taken_offline.discard(name)
                events.append(FaultEvent("online", name, "recovered"))
            if device.online and arm < self.offline_mid_job_probability:
                device.schedule_outage(1 + int(arm_after * 3))
            if self.drift_scale > 0 and drift < self.drift_probability:
                events.append(self._drift(device, rng, now))
            if advance < self.advance_probability:
                event = self.advance(device, now)
                if event is not None:
                    events.append(event)
        return events

    def _drift(self, device: SimulatedQPU, rng: np.random.Generator, now: datetime) -> FaultEvent:
        old = device.calibration
        new_id = f"{real_snapshot_id(old)}{_DRIFT_MARK}.{self.seed}.{self._steps}"
        device.recalibrate(
            drift_calibration(old, rng, self.drift_scale, new_id, now), calibrated_at=now
        )
        return FaultEvent(
            "drift",
            device.name,
            f"{old.snapshot_id} -> {new_id} (error score {old.error_score:.6f} -> "
            f"{device.calibration.error_score:.6f})",
        )

    @staticmethod
    def advance(device: SimulatedQPU, now: datetime) -> FaultEvent | None:
        """Install the next real snapshot after the device's current one (None if latest)."""
        current = device.calibration
        root = real_snapshot_id(current)
        files = snapshot_files(current.device)
        ids = [f.snapshot_id for f in files]
        if root in ids:
            later = files[ids.index(root) + 1 :]
        else:
            later = [f for f in files if f.timestamp > current.timestamp]
        if not later:
            return None
        device.recalibrate(
            load_calibration(current.device, later[0].snapshot_id), calibrated_at=now
        )
        return FaultEvent("drift", device.name, f"{current.snapshot_id} -> {later[0].snapshot_id}")
