"""Durable scheduler state on SQLAlchemy: SQLite by default, PostgreSQL by URL.

The store runs the pure policy core (`prefect_quantum.scheduling.decide`) in serialized
transactions shared by every process and machine (docs/scheduling.md, [S1..S5]).
"""

from prefect_quantum.store.audit import GENESIS_HASH, record_hash, verify_chain
from prefect_quantum.store.engine import default_url
from prefect_quantum.store.store import Heartbeat, JobStatus, Outcome, SchedulerStore
from prefect_quantum.store.tenants import Credentials, Principal, TenantView, connect

__all__ = [
    "GENESIS_HASH",
    "Credentials",
    "Heartbeat",
    "JobStatus",
    "Outcome",
    "Principal",
    "SchedulerStore",
    "TenantView",
    "connect",
    "default_url",
    "record_hash",
    "verify_chain",
]
