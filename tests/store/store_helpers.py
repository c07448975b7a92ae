"""Helpers shared by the store tests and their worker processes."""

from __future__ import annotations

from collections.abc import Callable

from prefect_quantum.scheduling import DeviceState
from prefect_quantum.store import SchedulerStore

MakeStore = Callable[..., SchedulerStore]
"""The `make_store` fixture: a store on the test's backend, closed after the test."""


class FakeClock:
    """A settable clock for the store (epoch seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def qpu(name: str, *, qubits: int = 10, speed: float = 100_000.0, **kwargs: object) -> DeviceState:
    """A QPU with fresh calibration."""
    return DeviceState(name, True, qubits, speed, **kwargs)  # type: ignore[arg-type]
