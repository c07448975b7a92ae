"""Device eligibility [A1], [C1] and placement scoring [A2]."""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple

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


class Eligibility(NamedTuple):
    """What one constraint signature may use this pass (a tuple: built per signature)."""

    availability: Availability
    devices: tuple[DeviceState, ...]  # eligible QPUs, best placement first [A2]


class FleetIndex:
    """The devices of one snapshot, ranked once ([A2]), answering `eligibility` per
    constraint signature with a per-pass cache."""

    __slots__ = (
        "_cache", "_config", "_fitting", "_position", "_ranked", "_simulator_cache",
        "_simulators", "_usable",
        "simulators_listed",
    )

    def __init__(self, devices: Iterable[DeviceState], config: PolicyConfig) -> None:
        self._config = config
        listed = list(devices)
        self._ranked = sorted(
            (d for d in listed if not d.is_simulator), key=lambda d: device_rank_key(d, config)
        )
        self._position = {d.name: i for i, d in enumerate(self._ranked)}
        self._usable = [d.online and calibration_fresh(d, config) for d in self._ranked]
        self._simulators = sorted((d for d in listed if d.is_simulator), key=lambda d: d.name)
        self.simulators_listed = bool(self._simulators)
        self._cache: dict[Signature, Eligibility] = {}
        self._simulator_cache: dict[tuple[int, str | None], tuple[DeviceState, ...]] = {}
        self._fitting: dict[tuple[int, str | None], tuple[bool, frozenset[str]]] = {}

    def has_eligible(self, signature: Signature) -> bool:
        """`eligibility(signature).availability is Availability.OK`, without building the
        device tuple: a set test per signature (most signatures are only tested)."""
        num_qubits, allowed, domain = signature
        found = self._fitting.get((num_qubits, domain))
        if found is None:
            ranked, usable = self._ranked, self._usable
            ok = [
                usable[i] and d.num_qubits >= num_qubits
                and (domain is None or domain in d.compliance_domains)
                for i, d in enumerate(ranked)
            ]
            # Named devices resolve through `_position`, exactly as `eligibility` does.
            found = self._fitting[(num_qubits, domain)] = (
                any(ok), frozenset(name for name, i in self._position.items() if ok[i])
            )
        if allowed is None:
            return found[0]
        return not found[1].isdisjoint(allowed)

    def eligibility(self, signature: Signature) -> Eligibility:
        """Eligible QPUs of a signature (best first), and why there are none."""
        found = self._cache.get(signature)
        if found is not None:
            return found
        num_qubits, allowed, domain = signature
        ranked, usable = self._ranked, self._usable
        if allowed is None:
            indices: Iterable[int] = range(len(ranked))
        else:
            position = self._position
            indices = sorted(position[name] for name in allowed if name in position)
        eligible = tuple(
            ranked[i] for i in indices
            if usable[i] and ranked[i].num_qubits >= num_qubits
            and (domain is None or domain in ranked[i].compliance_domains)
        )
        availability = Availability.OK if eligible else self._why_none(signature)
        found = self._cache[signature] = Eligibility(availability, eligible)
        return found

    def simulators(self, num_qubits: int, domain: str | None) -> tuple[DeviceState, ...]:
        """Online fallback simulators with enough qubits authorized per [C1], by name.
        `allowed_devices` names QPUs, so it does not apply here ([B5])."""
        key = (num_qubits, domain)
        found = self._simulator_cache.get(key)
        if found is None:
            found = self._simulator_cache[key] = tuple(
                d for d in self._simulators if d.online and fits(d, (num_qubits, None, domain))
            )
        return found

    def _why_none(self, signature: Signature) -> Availability:
        static = [d for d in self._ranked if fits(d, signature)]
        if not static:
            return Availability.NO_QPU
        if not any(d.online for d in static):
            return Availability.OFFLINE
        return Availability.STALE
