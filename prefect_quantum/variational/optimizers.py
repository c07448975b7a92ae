"""The optimizers, each driving ``step(points) -> energies`` until it raises ``StopLoop``.

One ``step`` is one iteration: one estimator run of all its parameter sets. COBYLA
(SciPy) evaluates one point per iteration; SPSA evaluates ``[x, x + cΔ, x - cΔ]`` in one
batch, so its rows show the energy at the current point. qiskit-algorithms is not a
dependency: SPSA is the standard Spall recursion, seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize

Step = Callable[[np.ndarray], np.ndarray]
OptimizerName = Literal["cobyla", "spsa"]


class StopLoop(Exception):
    """Raised by ``step`` to end the optimization (budget spent or early stopping)."""


@dataclass(frozen=True)
class CobylaSettings:
    """SciPy COBYLA: initial and final trust-region radius."""

    rhobeg: float = 0.5
    tol: float = 1e-6


@dataclass(frozen=True)
class SpsaSettings:
    """SPSA gains ``a_k = a / (k + 1 + A)^alpha``, ``c_k = c / (k + 1)^gamma``."""

    a: float = 1.0
    c: float = 0.15
    alpha: float = 0.602
    gamma: float = 0.101
    stability: float = 10.0
    """``A`` in the step gain."""


def run_cobyla(step: Step, x0: np.ndarray, max_iterations: int,
               settings: CobylaSettings) -> np.ndarray:
    """Minimize with COBYLA; returns its final point (``StopLoop`` ends it early)."""
    final = {"x": np.asarray(x0, dtype=float)}

    def objective(x: np.ndarray) -> float:
        final["x"] = np.array(x, dtype=float)
        return float(step(final["x"][None, :])[0])

    result = minimize(objective, final["x"], method="COBYLA",
                      options={"maxiter": max_iterations + 10, "rhobeg": settings.rhobeg,
                               "tol": settings.tol})
    return np.asarray(result.x, dtype=float)


def run_spsa(step: Step, x0: np.ndarray, max_iterations: int, settings: SpsaSettings,
             seed: int) -> np.ndarray:
    """Minimize with SPSA (Rademacher perturbations from ``seed``); returns the last point."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x0, dtype=float).copy()
    for k in range(max_iterations):
        ak = settings.a / (k + 1 + settings.stability) ** settings.alpha
        ck = settings.c / (k + 1) ** settings.gamma
        delta = rng.choice([-1.0, 1.0], size=x.shape)
        energies = step(np.stack([x, x + ck * delta, x - ck * delta]))
        gradient = (energies[1] - energies[2]) / (2 * ck) * delta
        x = x - ak * gradient
    return x
