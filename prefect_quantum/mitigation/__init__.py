"""Error mitigation over Mitiq, one module per technique.

Each module exposes ``construct_circuits`` (what to execute) and ``combine_results``
(the mitigated value from what was executed); execution itself always goes through the
caller's device batch.

Example::

    config = parse_mitigation("zne+rem")
    config.zne          # ZNEConfig() defaults
    config.uses_rem     # True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation.zne import ZNEConfig

Mitigation = Literal["none", "zne", "rem", "zne+rem"]

_ALIASES: dict[str, Mitigation] = {
    "none": "none",
    "zne": "zne",
    "rem": "rem",
    "zne+rem": "zne+rem",
    "rem+zne": "zne+rem",
}


@dataclass(frozen=True)
class MitigationConfig:
    """The techniques to apply and ZNE's settings (ignored without ZNE)."""

    technique: Mitigation = "none"
    zne: ZNEConfig = field(default_factory=ZNEConfig)

    @property
    def uses_zne(self) -> bool:
        return self.technique in ("zne", "zne+rem")

    @property
    def uses_rem(self) -> bool:
        return self.technique in ("rem", "zne+rem")


def parse_mitigation(
    value: str | MitigationConfig, zne: ZNEConfig | None = None
) -> MitigationConfig:
    """A ``MitigationConfig`` from ``"none"``, ``"zne"``, ``"rem"``, ``"zne+rem"`` or
    ``"rem+zne"`` (case and spaces ignored)."""
    if isinstance(value, MitigationConfig):
        return value
    if not isinstance(value, str):
        raise InvalidInputError("mitigation", f"expected a string, got {type(value).__name__}")
    key = value.replace(" ", "").lower()
    if key not in _ALIASES:
        raise InvalidInputError("mitigation", f"expected one of {sorted(_ALIASES)}, got {value!r}")
    return MitigationConfig(cast(Mitigation, _ALIASES[key]), zne or ZNEConfig())


__all__ = ["Mitigation", "MitigationConfig", "ZNEConfig", "parse_mitigation"]
