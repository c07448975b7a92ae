"""Compliance domains: which devices, and which fallback simulators, may run a restricted job.

A job tagged with a domain runs only on a device authorized for it, and falls back only to
a simulator kind (``noisy`` or ``ideal``, both run in the worker's own process) that the
domain authorizes. The scheduler's core enforces the device rule when it grants ([C1],
[C2]); :meth:`ComplianceRules.check` re-checks every backend right before it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prefect_quantum.errors import ComplianceError

FALLBACK_KINDS = ("noisy", "ideal")


@dataclass(frozen=True)
class ComplianceRules:
    """Authorized devices and fallback simulator kinds, by compliance domain."""

    devices: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fallbacks: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        devices: Mapping[str, Iterable[str]],
        fallbacks: Mapping[str, Iterable[str]] | None = None,
    ) -> ComplianceRules:
        """Rules from plain mappings (a block's fields)."""
        return cls(
            {d: frozenset(names) for d, names in devices.items()},
            {d: frozenset(kinds) for d, kinds in (fallbacks or {}).items()},
        )

    def devices_for(self, domain: str) -> frozenset[str]:
        """The devices authorized for ``domain``; ComplianceError when there are none."""
        authorized = self.devices.get(domain, frozenset())
        if not authorized:
            known = ", ".join(sorted(self.devices)) or "none configured"
            raise ComplianceError(
                f"options.compliance_domain: no device is authorized for {domain!r} "
                f"(domains: {known})"
            )
        return authorized

    def may_fall_back(self, domain: str | None, kind: str) -> bool:
        """Whether a job of ``domain`` may run on the ``kind`` fallback simulator."""
        return domain is None or kind in self.fallbacks.get(domain, frozenset())

    def check(self, domain: str | None, backend_kind: str, device: str, fallback: str) -> None:
        """Raise ComplianceError unless a job of ``domain`` may run on this backend."""
        if domain is None:
            return
        if backend_kind == "qpu":
            if device not in self.devices_for(domain):
                raise ComplianceError(
                    f"compliance domain {domain!r} does not authorize device {device!r}"
                )
        elif not self.may_fall_back(domain, fallback):
            raise ComplianceError(
                f"compliance domain {domain!r} does not authorize the {fallback!r} "
                "fallback simulator"
            )
