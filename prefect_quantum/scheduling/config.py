"""`PolicyConfig`: every number the policy uses; the rules citing each field are in
docs/scheduling.md ("Configuration")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.scheduling.model import FallbackMode

DEFAULT_PRIORITY_CLASSES: Mapping[str, int] = MappingProxyType(
    {"low": 0, "normal": 1, "high": 2, "urgent": 3}
)


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InvalidInputError(name, f"must be a finite number > 0, got {value!r}")


def _non_negative(name: str, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise InvalidInputError(name, f"must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class PolicyConfig:
    """The scheduling policy's configuration, validated on construction.

    >>> PolicyConfig(shares={"chem": 2.0}).share_of("chem"), PolicyConfig().class_of("urgent")
    (2.0, 3)
    """

    shares: Mapping[str, float] = field(default_factory=dict)
    default_share: float = 1.0
    half_life_s: float = 86_400.0
    priority_classes: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_CLASSES)
    )
    aging_rate: float = 1.0 / 3600.0
    work_weight: float = 10.0
    fair_tolerance: float = 0.0
    strict_class: int = 2
    preemption_grace_s: float = 60.0
    min_run_s: float = 120.0
    max_preemptions_per_job: int = 2
    weight_time: float = 1.0
    weight_fidelity: float = 1.0
    calibration_max_age_s: float = 86_400.0
    reference_clops: float = 100_000.0
    fallback_default: FallbackMode = FallbackMode.NOISY
    retries: int = 3
    retry_base_s: float = 2.0
    retry_factor: float = 2.0
    retry_cap_s: float = 60.0
    retry_jitter: float = 0.2
    lease_ttl_s: float = 30.0
    session_max_s: float = 3600.0
    session_idle_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        for tenant, share in self.shares.items():
            _positive(f"shares[{tenant!r}]", share)
        object.__setattr__(self, "shares", MappingProxyType(dict(self.shares)))
        if not self.priority_classes:
            raise InvalidInputError("priority_classes", "must name at least one class")
        for name, level in self.priority_classes.items():
            if not name or isinstance(level, bool) or not isinstance(level, int):
                raise InvalidInputError(
                    "priority_classes", f"{name!r} must map a non-empty name to an int"
                )
        object.__setattr__(
            self, "priority_classes", MappingProxyType(dict(self.priority_classes))
        )
        for name in ("default_share", "half_life_s", "aging_rate", "calibration_max_age_s",
                     "reference_clops", "retry_factor", "lease_ttl_s", "session_max_s",
                     "session_idle_timeout_s"):
            _positive(name, getattr(self, name))
        for name in ("preemption_grace_s", "min_run_s", "weight_time", "weight_fidelity",
                     "work_weight", "fair_tolerance",
                     "retry_base_s", "retry_cap_s", "retry_jitter"):
            _non_negative(name, getattr(self, name))
        if self.weight_time + self.weight_fidelity == 0:
            raise InvalidInputError("weight_time", "weight_time and weight_fidelity are both 0")
        if self.retry_factor < 1:
            raise InvalidInputError("retry_factor", f"must be >= 1, got {self.retry_factor!r}")
        if self.retry_cap_s < self.retry_base_s:
            raise InvalidInputError(
                "retry_cap_s", f"must be >= retry_base_s ({self.retry_base_s}), "
                f"got {self.retry_cap_s!r}"
            )
        if isinstance(self.strict_class, bool) or not isinstance(self.strict_class, int):
            raise InvalidInputError(
                "strict_class", f"must be an int (a class level), got {self.strict_class!r}"
            )
        for name in ("max_preemptions_per_job", "retries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(name, f"must be an int >= 0, got {value!r}")
        if not isinstance(self.fallback_default, FallbackMode):
            try:
                object.__setattr__(self, "fallback_default", FallbackMode(self.fallback_default))
            except ValueError:
                raise InvalidInputError(
                    "fallback_default",
                    f"must be one of {[m.value for m in FallbackMode]}, "
                    f"got {self.fallback_default!r}",
                ) from None

    @property
    def top_class(self) -> int:
        """`c_max`: the highest configured priority class ([F5])."""
        return max(self.priority_classes.values())

    @property
    def strict_level(self) -> int:
        """`c_s = min(strict_class, c_max)`: the lowest class ordered strictly across
        tenants; the top class is always strict, so aging bounds every wait ([F3], [F5])."""
        return min(self.strict_class, self.top_class)

    @property
    def aging_horizon_s(self) -> float:
        """`H = 1 / aging_rate` ([F5])."""
        return 1.0 / self.aging_rate

    def share_of(self, tenant: str) -> float:
        """The tenant's configured share, or `default_share` ([F2])."""
        return self.shares.get(tenant, self.default_share)

    def class_of(self, name: str) -> int:
        """The integer level of a named priority class."""
        try:
            return self.priority_classes[name]
        except KeyError:
            raise InvalidInputError(
                "priority_class",
                f"unknown class {name!r}; configured: {sorted(self.priority_classes)}",
            ) from None
