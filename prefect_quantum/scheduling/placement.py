"""Device eligibility [A1], [C1] and placement scoring [A2]."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.model import DeviceState, Signature


class Availability(Enum):
    """Why a constraint signature can or cannot be served by a QPU right now."""

    OK = "ok"
    NO_QPU = "no QPU in the fleet satisfies the job's constraints"  # [B7]
    OFFLINE = "every eligible QPU is offline"  # [B2]
    STALE = "no online eligible QPU passes the calibration check"  # [B3]


def fits(device: DeviceState, signature: Signature) -> bool:
    """Static constraints: qubits, allowed devices and compliance ([A1], [C1])."""
    num_qubits, allowed, domain = signature
    return (
        device.num_qubits >= num_qubits
        and (allowed is None or device.name in allowed)
        and (domain is None or domain in device.compliance_domains)
    )


def calibration_fresh(device: DeviceState, config: PolicyConfig) -> bool:
    """The calibration check of [A1]."""
    return device.calibration_ok and device.calibration_age_s <= config.calibration_max_age_s


def duration_on(remaining_work_s: float, device: DeviceState, config: PolicyConfig) -> float:
    """Seconds to run `remaining_work_s` (at reference speed) on `device`."""
    return remaining_work_s * config.reference_clops / device.speed


def placement_cost(duration_s: float, est_fidelity: float, config: PolicyConfig) -> float:
    """`weight_time * ln(duration) - weight_fidelity * ln(fidelity)`; lower is better [A2]."""
    return config.weight_time * math.log(max(duration_s, 1e-12)) - (
        config.weight_fidelity * math.log(est_fidelity)
    )


def device_rank_key(device: DeviceState, config: PolicyConfig) -> tuple[float, str]:
    """[A2] for any job: `ln(duration)` differs between devices only by `-ln(speed)`,
    so one device order (ties by name) serves every request."""
    return (
        -config.weight_time * math.log(device.speed)
        - config.weight_fidelity * math.log(device.est_fidelity),
        device.name,
    )


@dataclass(frozen=True, slots=True)
class Eligibility:
    """What one constraint signature may use this pass."""

    availability: Availability
    devices: tuple[DeviceState, ...]  # eligible QPUs, best placement first [A2]
    simulators: tuple[DeviceState, ...]  # authorized fallback simulators, by name [B5]


def eligibility(
    signature: Signature, devices: Iterable[DeviceState], config: PolicyConfig
) -> Eligibility:
    """Eligible QPUs and simulators of one signature, and why none when empty."""
    static: list[DeviceState] = []
    simulators: list[DeviceState] = []
    num_qubits, _, domain = signature
    for device in devices:
        if device.is_simulator:
            # allowed_devices names QPUs; a simulator needs qubits and [C1] only.
            if fits(device, (num_qubits, None, domain)):
                simulators.append(device)
        elif fits(device, signature):
            static.append(device)
    online = [d for d in static if d.online]
    eligible = [d for d in online if calibration_fresh(d, config)]
    if not static:
        availability = Availability.NO_QPU
    elif not online:
        availability = Availability.OFFLINE
    elif not eligible:
        availability = Availability.STALE
    else:
        availability = Availability.OK
    eligible.sort(key=lambda d: device_rank_key(d, config))
    simulators.sort(key=lambda d: d.name)
    return Eligibility(availability, tuple(eligible), tuple(s for s in simulators if s.online))
