"""The benchmark's fleet and its two hardware scenarios.

The fleet is the ICPP paper's five devices (March 2025 calibration means, CLOPS); brussels
and kyiv are authorized for the `fedramp` compliance domain. A scenario draws, per seed,
each device's outages and calibration windows and a multiplicative random walk of its
error score (hourly steps, lognormal), and fixes the preemption cost: work since the last
checkpoint is lost and a restarted job pays a warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.simulation.icpp_model import ICPP_DEVICES

PRICE_PER_DEVICE_S = 1.60  # USD per QPU-second, IBM's pay-as-you-go list price order
FEDRAMP = frozenset({"fedramp"})


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A benchmark QPU: qubits, speed (CLOPS), base error score, compliance domains."""

    name: str
    num_qubits: int
    speed: float
    error_score: float
    compliance_domains: frozenset[str] = frozenset()


FLEET: tuple[SimDevice, ...] = tuple(
    SimDevice(d.name, d.num_qubits, d.clops, d.error_score,
              FEDRAMP if d.name in {"ibm_brussels", "ibm_kyiv"} else frozenset())
    for d in ICPP_DEVICES
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Hardware behaviour; rates are per device."""

    name: str
    drift_sigma_per_h: float  # sd of the hourly log-step of the error score
    outages_per_h: float
    outage_mean_s: float
    calibration_period_s: float
    calibration_window_s: float
    checkpoint_s: float  # device-seconds between checkpoints
    warmup_s: float  # paid by a job restarted after preemption or interruption


SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm", 0.0, 0.0, 0.0, 24 * 3600.0, 600.0, 30.0, 20.0),
    "degraded": Scenario("degraded", 0.12, 0.12, 1200.0, 4 * 3600.0, 900.0, 60.0, 90.0),
}


def scenario(name: str) -> Scenario:
    """Look a scenario up by name."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InvalidInputError(
            "scenario", f"unknown scenario {name!r}; choose from {sorted(SCENARIOS)}"
        ) from None


@dataclass(frozen=True)
class Timeline:
    """One seed's hardware history: down intervals (outages and calibration windows, with
    a flag saying which) and hourly error-score multipliers, per device."""

    down: tuple[tuple[tuple[float, float, bool], ...], ...]  # (start, end, is_outage)
    drift: np.ndarray  # (devices, hours)

    def error_score(self, device: int, base: float, t: float) -> float:
        """The device's error score at `t` (hour-constant)."""
        hour = min(int(t // 3600), self.drift.shape[1] - 1)
        return min(0.5, base * float(self.drift[device, hour]))


def draw_timeline(sc: Scenario, seed: int, horizon_s: float,
                  fleet: tuple[SimDevice, ...] = FLEET) -> Timeline:
    """Sample outages (Poisson), staggered calibration windows and drift for one seed."""
    rng = np.random.default_rng([seed, 7919])
    hours = math.ceil(horizon_s * 3 / 3600) + 1  # runs may overrun the trace horizon
    steps = rng.normal(0.0, sc.drift_sigma_per_h, size=(len(fleet), hours))
    drift = np.exp(np.cumsum(steps, axis=1))
    down = []
    for i in range(len(fleet)):
        intervals: list[tuple[float, float, bool]] = []
        offset = sc.calibration_period_s * (i + 0.5) / len(fleet)
        t = offset
        while t < 3 * horizon_s:
            intervals.append((t, t + sc.calibration_window_s, False))
            t += sc.calibration_period_s
        if sc.outages_per_h > 0:
            t = 0.0
            while True:
                t += rng.exponential(3600.0 / sc.outages_per_h)
                if t >= 3 * horizon_s:
                    break
                intervals.append((t, t + rng.exponential(sc.outage_mean_s), True))
        down.append(tuple(sorted(intervals)))
    return Timeline(tuple(down), drift)


def success_probability(error_score: float, num_qubits: int, depth: int) -> float:
    """The benchmark's estimate of a job's success: `(1 - score)^(sqrt(Q) + D/10)`."""
    return (1.0 - error_score) ** (math.sqrt(num_qubits) + depth / 10.0)


def device_fidelity(error_score: float) -> float:
    """What a `DeviceState` reports: a 10-layer reference circuit's `(1 - score)^10`."""
    return max(1e-6, (1.0 - error_score) ** 10)
