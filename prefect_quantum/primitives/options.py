"""The options of :class:`QuantumSampler` and :class:`QuantumEstimator`, in one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation import Mitigation, parse_mitigation
from prefect_quantum.mitigation.zne import ZNEConfig

if TYPE_CHECKING:
    from prefect_quantum.blocks import QuantumScheduler
    from prefect_quantum.fleet import Fleet, SimulatedQPU

IDEAL = "ideal"
"""``device=IDEAL`` runs on the fleet's noiseless simulator."""


@dataclass(frozen=True)
class PrimitiveOptions:
    """Where and how a primitive runs.

    With a ``scheduler`` the primitive holds one scheduler session (charged to ``tenant`` at
    ``priority``) for its whole life and runs each ``run()`` as one session iteration; the
    device is the one the session leases (``device`` restricts it). Without one it runs
    directly on ``device`` of ``fleet`` (the default fleet when omitted; the device with the
    lowest error score when ``device`` is omitted; ``"ideal"`` for the noiseless simulator).
    ``seed`` makes every run reproducible (run ``k`` is seeded from ``seed`` and ``k``);
    ``None`` draws fresh seeds.
    """

    scheduler: QuantumScheduler | None = None
    fleet: Fleet | None = None
    device: str | SimulatedQPU | None = None
    tenant: str = "default"
    priority: str = "normal"
    mitigation: Mitigation = "none"
    zne: ZNEConfig = field(default_factory=ZNEConfig)
    default_shots: int = 4096
    default_precision: float = 1 / 64
    seed: int | None = 0
    optimization_level: int = 2
    session_max_duration_s: float = 3600.0
    session_idle_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        parse_mitigation(self.mitigation)  # validates, naming the field
        if not isinstance(self.default_shots, int) or self.default_shots <= 0:
            raise InvalidInputError("default_shots", f"must be a positive integer, got "
                                    f"{self.default_shots!r}")
        if not self.default_precision >= 0:
            raise InvalidInputError("default_precision", "must be >= 0")
        if self.optimization_level not in (0, 1, 2, 3):
            raise InvalidInputError("optimization_level", "must be 0, 1, 2 or 3")
        if self.scheduler is not None and self.fleet is not None:
            raise InvalidInputError("fleet", "give a scheduler or a fleet, not both")


_NAMES = frozenset(f.name for f in fields(PrimitiveOptions))


def resolve_options(
    options: PrimitiveOptions | None, overrides: dict[str, Any]
) -> PrimitiveOptions:
    """``options`` (or the defaults) with the keyword ``overrides`` applied."""
    unknown = set(overrides) - _NAMES
    if unknown:
        raise TypeError(f"unknown primitive option(s): {', '.join(sorted(unknown))}")
    base = options if options is not None else PrimitiveOptions()
    return replace(base, **overrides) if overrides else base
