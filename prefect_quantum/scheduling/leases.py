"""Lease expiry [L1], [L2]."""

from __future__ import annotations

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.model import Lease


def is_lease_expired(lease: Lease, now: float) -> bool:
    """True when the lease's heartbeat deadline has passed ([L1])."""
    return now >= lease.expires_at


def expiry_reason(lease: Lease, now: float, config: PolicyConfig) -> str | None:
    """Why the lease has expired at `now`, or None while it is live ([L1], [L2])."""
    if is_lease_expired(lease, now):
        return "[L1] heartbeat deadline passed"
    if lease.is_session:
        if now >= lease.started_at + config.session_max_s:
            return "[L2] session reached session_max_s"
        if lease.idle_since is not None and now - lease.idle_since >= config.session_idle_timeout_s:
            return "[L2] session idle for session_idle_timeout_s"
    return None
