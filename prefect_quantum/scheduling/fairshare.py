"""Fair-share accounting [F1..F4] and Jain's fairness index."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.model import Lease, TenantUsage


def decayed_usage(
    previous: float, as_of: float, now: float, add_qpu_seconds: float, half_life_s: float
) -> float:
    """`previous` (recorded at `as_of`) halved every `half_life_s` up to `now`, plus the
    QPU-seconds charged at `now` ([F1]). A `now` before `as_of` does not grow usage."""
    elapsed = max(0.0, now - as_of)
    return previous * 2.0 ** (-elapsed / half_life_s) + add_qpu_seconds


def fair_share_deficit(
    usage: float, share: float, total_usage: float, total_share: float
) -> float:
    """`1 - rho`: how far below its share a tenant is, relative to that share ([F2]).

    1 means no usage at all; 0 exactly at share; negative when over it.
    """
    return 1.0 - usage_ratio(usage, share, total_usage, total_share)


def usage_ratio(usage: float, share: float, total_usage: float, total_share: float) -> float:
    """`rho = (usage / total_usage) / (share / total_share)`; 0 when nobody used anything."""
    if total_usage <= 0.0:
        return 0.0
    return (usage / total_usage) * (total_share / share)


def fair_share_factor(rho: float) -> float:
    """`F = 2 ** -rho`, in (0, 1], larger for tenants further below their share ([F3])."""
    return 2.0 ** (-rho)


def jain_index(values: Iterable[float]) -> float:
    """Jain's fairness index `(sum x)^2 / (n * sum x^2)`: 1 when all equal, 1/n at worst.

    An empty or all-zero input is perfectly fair (1.0).
    """
    xs = list(values)
    if any(x < 0 for x in xs):
        raise ValueError("jain_index: values must be >= 0")
    square_sum = sum(x * x for x in xs)
    if not xs or square_sum == 0.0:
        return 1.0
    return sum(xs) ** 2 / (len(xs) * square_sum)


class Standing:
    """Per-pass fair-share state of the active tenants ([F1], [F2], [F4]).

    Totals are fixed at construction; `charge` moves one tenant's usage for the rest of
    the pass.
    """

    __slots__ = ("_config", "_total_share", "_total_usage", "usage")

    def __init__(
        self,
        active: Iterable[str],
        usage: Mapping[str, TenantUsage],
        live_leases: Iterable[Lease],
        now: float,
        config: PolicyConfig,
    ) -> None:
        self._config = config
        self.usage: dict[str, float] = {}
        for tenant in sorted(active):
            record = usage.get(tenant)
            self.usage[tenant] = (
                0.0
                if record is None
                else decayed_usage(
                    record.decayed_qpu_seconds, record.as_of, now, 0.0, config.half_life_s
                )
            )
        for lease in live_leases:  # in-flight usage [F1]
            self.usage[lease.tenant] = self.usage.get(lease.tenant, 0.0) + max(
                0.0, now - lease.started_at
            )
        # Fixed for the pass [F4]; at least 1 QPU-second so that charges count from zero.
        # fsum is exactly rounded, so totals do not depend on iteration order.
        self._total_usage = max(1.0, math.fsum(self.usage.values()))
        self._total_share = math.fsum(config.share_of(t) for t in self.usage)

    def rho(self, tenant: str) -> float:
        """The tenant's usage-to-share ratio this pass."""
        return usage_ratio(
            self.usage.get(tenant, 0.0),
            self._config.share_of(tenant),
            self._total_usage,
            self._total_share,
        )

    def factor(self, tenant: str) -> float:
        """`F_t` for ordering [F3]."""
        return fair_share_factor(self.rho(tenant))

    def charge(self, tenant: str, qpu_seconds: float) -> None:
        """Count a grant made in this pass against its tenant [F4]."""
        self.usage[tenant] = self.usage.get(tenant, 0.0) + qpu_seconds
