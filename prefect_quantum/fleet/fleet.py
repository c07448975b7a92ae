"""The fleet: the configured devices plus the fallback simulators."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from prefect_quantum.errors import InvalidInputError, UnknownDeviceError

from .calibration import load_calibration
from .catalog import LATEST_MONTH, canonical_name
from .compliance import ComplianceRules
from .device import SimulatedQPU

DEFAULT_DEVICES = (
    "ibm_strasbourg",
    "ibm_brussels",
    "ibm_kyiv",
    "ibm_torino",
    "ibm_fez",
    "ibm_kawasaki",
)


@dataclass(frozen=True)
class FleetConfig:
    """Which devices, from which month's calibrations, at which simulated-time scale."""

    devices: tuple[str, ...] = DEFAULT_DEVICES
    month: str = LATEST_MONTH
    time_scale: float = 0.0


class Fleet:
    """Simulated QPUs by name, with an ideal simulator and last-good noisy simulators."""

    def __init__(
        self, devices: Iterable[SimulatedQPU], compliance: ComplianceRules | None = None
    ) -> None:
        self.compliance = compliance or ComplianceRules()
        self.devices: dict[str, SimulatedQPU] = {}
        for device in devices:
            if device.name in self.devices:
                raise InvalidInputError("devices", f"{device.name} is listed twice")
            self.devices[device.name] = device
        if not self.devices:
            raise InvalidInputError("devices", "a fleet needs at least one device")
        self._lock = threading.Lock()
        self._ideal: SimulatedQPU | None = None
        self._last_good: dict[str, SimulatedQPU] = {}

    @classmethod
    def from_config(
        cls,
        config: FleetConfig | None = None,
        *,
        calibrated_at: datetime | None = None,
        compliance: ComplianceRules | None = None,
    ) -> Fleet:
        """Build the fleet ``config`` describes (the default fleet when ``None``)."""
        config = config or FleetConfig()
        names = dict.fromkeys(canonical_name(n) for n in config.devices)
        try:
            calibrations = [load_calibration(name, config.month) for name in names]
        except InvalidInputError as exc:
            if exc.field != "snapshot":
                raise
            raise InvalidInputError("month", str(exc)) from exc
        return cls(
            (SimulatedQPU(cal, time_scale=config.time_scale, calibrated_at=calibrated_at)
             for cal in calibrations),
            compliance,
        )

    @classmethod
    def default(cls) -> Fleet:
        """Six devices, March 2025: CLOPS from 29k to 220k, 127, 133 and 156 qubits."""
        return cls.from_config(FleetConfig())

    def get(self, name: str) -> SimulatedQPU:
        """The device called ``name`` (``"fez"`` also finds ``"ibm_fez"``)."""
        for candidate in (name, f"ibm_{name}" if isinstance(name, str) else name):
            if candidate in self.devices:
                return self.devices[candidate]
        raise UnknownDeviceError(
            "device", f"{name!r} is not in the fleet; known: {', '.join(sorted(self.devices))}"
        )

    def online(self) -> list[SimulatedQPU]:
        """Devices accepting work now."""
        return [d for d in self.devices.values() if d.online]

    def ideal_simulator(self) -> SimulatedQPU:
        """A noiseless simulator that accepts circuits transpiled for any fleet device."""
        with self._lock:
            if self._ideal is None:
                widest = max(self.devices.values(), key=lambda d: d.calibration.num_qubits)
                self._ideal = SimulatedQPU(widest.calibration, kind="simulator", ideal=True)
            return self._ideal

    def last_good_simulator(self, device: str) -> SimulatedQPU:
        """A noisy simulator of ``device`` with its installed (last good) calibration.

        It shares the device's Target, so circuits transpiled for the device run on it, and
        it never goes offline. It follows the device when that is recalibrated.
        """
        qpu = self.get(device)
        with self._lock:
            simulator = self._last_good.get(qpu.name)
            if simulator is None or simulator.calibration is not qpu.calibration:
                simulator = SimulatedQPU(
                    qpu.calibration,
                    kind="simulator",
                    calibrated_at=qpu.calibrated_at,
                    name=f"simulator:{qpu.name}",
                )
                self._last_good[qpu.name] = simulator
            return simulator
