"""Lease deadlines for plain leases and sessions ([L1], [L2], [L4]).

A lease row keeps ``deadline_at``, the earliest instant any expiry rule fires, so "is a
pass due?" is one indexed ``min(deadline_at)`` and the pass expires exactly the leases the
core's `expiry_reason` would. A session's limits are its own ``max_duration_s`` and
``idle_timeout_s``, each capped by the policy's ``session_max_s`` and
``session_idle_timeout_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.scheduling import PolicyConfig


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """A session's effective limits in seconds ([L2])."""

    max_s: float
    idle_timeout_s: float

    @classmethod
    def of(
        cls, max_duration_s: float, idle_timeout_s: float, config: PolicyConfig
    ) -> SessionLimits:
        """Validated limits, capped by the policy's."""
        for name, value in (("max_duration_s", max_duration_s),
                            ("idle_timeout_s", idle_timeout_s)):
            if not (value > 0 and math.isfinite(value)):
                raise InvalidInputError(name, f"must be a finite number > 0, got {value!r}")
        return cls(min(max_duration_s, config.session_max_s),
                   min(idle_timeout_s, config.session_idle_timeout_s))


def lease_deadline(
    expires_at: float,
    started_at: float,
    session: SessionLimits | None,
    idle_since: float | None,
) -> tuple[float, str]:
    """The earliest expiry instant of a lease and the rule that fires then."""
    deadline, reason = expires_at, "[L1] heartbeat deadline passed"
    if session is not None:
        end = started_at + session.max_s
        if end < deadline:
            deadline, reason = end, "[L2] session reached its maximum duration"
        if idle_since is not None and idle_since + session.idle_timeout_s < deadline:
            deadline, reason = idle_since + session.idle_timeout_s, "[L2] session idle timeout"
    return deadline, reason
