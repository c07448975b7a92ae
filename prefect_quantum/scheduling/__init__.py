"""The pure scheduling policy core: standard library only (docs/scheduling.md).

>>> from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request, Snapshot, decide
>>> snap = Snapshot(now=0.0, waiting=(Request("j1", "chem", 1, 0.0, 10.0, 5),),
...                 devices=(DeviceState("fez", True, 156, 200_000.0),))
>>> [(g.job_id, g.device) for g in decide(snap, PolicyConfig()).grants]
[('j1', 'fez')]
"""

from prefect_quantum.scheduling.config import DEFAULT_PRIORITY_CLASSES, PolicyConfig
from prefect_quantum.scheduling.decide import decide
from prefect_quantum.scheduling.fairshare import (
    decayed_usage,
    fair_share_deficit,
    fair_share_factor,
    jain_index,
    usage_ratio,
)
from prefect_quantum.scheduling.leases import expiry_reason, is_lease_expired
from prefect_quantum.scheduling.model import (
    Decisions,
    DeviceState,
    Expiration,
    Fallback,
    FallbackMode,
    Grant,
    Lease,
    Preemption,
    Rejection,
    Request,
    Snapshot,
    TenantUsage,
)
from prefect_quantum.scheduling.placement import duration_on, placement_cost
from prefect_quantum.scheduling.preemption import effective_class, lease_class
from prefect_quantum.scheduling.retry import (
    base_delay,
    retries_exhausted,
    retry_delay,
    retry_delays,
    should_retry,
)

__all__ = [
    "DEFAULT_PRIORITY_CLASSES",
    "Decisions",
    "DeviceState",
    "Expiration",
    "Fallback",
    "FallbackMode",
    "Grant",
    "Lease",
    "PolicyConfig",
    "Preemption",
    "Rejection",
    "Request",
    "Snapshot",
    "TenantUsage",
    "base_delay",
    "decayed_usage",
    "decide",
    "duration_on",
    "effective_class",
    "expiry_reason",
    "fair_share_deficit",
    "fair_share_factor",
    "is_lease_expired",
    "jain_index",
    "lease_class",
    "placement_cost",
    "retries_exhausted",
    "retry_delay",
    "retry_delays",
    "should_retry",
    "usage_ratio",
]
