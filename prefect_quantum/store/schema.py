"""The scheduler store's tables (SQLAlchemy Core). Times are float epoch seconds."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

JOB_STATES = ("waiting", "running", "fallback", "completed", "failed", "rejected", "cancelled")
"""A request's lifecycle: waiting -> running -> completed, back to waiting on preemption,
expiry or a retryable failure; fallback, rejected and failed end the QPU path; cancelled
until resumed ([T5], [T6])."""

AUDIT_KINDS = (
    "submitted", "granted", "preempt_requested", "preempted", "released", "completed",
    "fell_back", "expired", "rejected", "resumed",
    "cancel_requested", "cancelled", "requeued", "tenant_added", "tenant_rotated",
    "lease_fenced",
)

# The single row every write transaction locks on PostgreSQL ([S1]); also remembers when
# the last decision pass ran and the audit chain's head (kept with the log, in the same
# transactions, so appending needs no extra query).
scheduler_lock = Table(
    "pq_scheduler_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_pass_at", Float, nullable=True),
    Column("audit_seq", Integer, nullable=False),
    Column("audit_hash", String(64), nullable=False),
)

requests = Table(
    "pq_requests",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("tenant", String(200), nullable=False),
    Column("priority_class", Integer, nullable=False),
    Column("submitted_at", Float, nullable=False),  # kept across re-queues [L3]
    Column("state", String(16), nullable=False),
    Column("work_s", Float, nullable=False),
    Column("num_qubits", Integer, nullable=False),
    Column("allowed_devices", JSON, nullable=True),  # sorted list, or null for any
    Column("compliance_domain", String(200), nullable=True),
    Column("preemptible", Boolean, nullable=False),
    Column("max_wait_s", Float, nullable=True),  # null = no bound
    Column("deadline", Float, nullable=True),
    Column("latest_start", Float, nullable=True),  # L_r of [B1]; null = unbounded
    Column("preemption_count", Integer, nullable=False),
    Column("shots_done", Integer, nullable=False),  # checkpointed shots
    Column("shots_total", Integer, nullable=False),
    Column("fallback", String(16), nullable=True),  # the request's FallbackMode, or default
    Column("retries_used", Integer, nullable=False),
    Column("is_session", Boolean, nullable=False),
    Column("session_max_s", Float, nullable=True),
    Column("session_idle_timeout_s", Float, nullable=True),
    Column("payload", JSON, nullable=True),
    Column("device", String(200), nullable=True),  # current or last device
    Column("fallback_kind", String(16), nullable=True),
    Column("simulator", String(200), nullable=True),
    Column("reason", Text, nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_pq_requests_state", "state", "latest_start"),
)

leases = Table(
    "pq_leases",
    metadata,
    Column("lease_id", String(64), primary_key=True),
    Column("job_id", String(200), nullable=False, unique=True),
    Column("device", String(200), nullable=False, unique=True),  # one job per QPU [S3]
    Column("tenant", String(200), nullable=False),
    Column("priority_class", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),  # heartbeat deadline [L1]
    Column("deadline_at", Float, nullable=False),  # earliest of [L1] and [L2] limits
    Column("last_heartbeat", Float, nullable=True),
    Column("preemptible", Boolean, nullable=False),
    Column("compliance_domain", String(200), nullable=True),
    Column("preemption_requested", Boolean, nullable=False),
    Column("preempted_by", String(200), nullable=True),
    Column("preemption_count", Integer, nullable=False),
    Column("work_done_s", Float, nullable=False),
    Column("checkpointed_s", Float, nullable=False),
    Column("work_remaining_s", Float, nullable=False),
    Column("shots_live", Integer, nullable=False),  # progress reported by heartbeats
    Column("is_session", Boolean, nullable=False),
    Column("session_max_s", Float, nullable=True),
    Column("session_idle_timeout_s", Float, nullable=True),
    Column("idle_since", Float, nullable=True),
    Index("ix_pq_leases_deadline", "deadline_at"),
)

devices = Table(
    "pq_devices",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("num_qubits", Integer, nullable=False),
    Column("speed", Float, nullable=False),
    Column("calibration_ok", Boolean, nullable=False),
    Column("calibrated_at", Float, nullable=False),  # now - calibration_age_s at registration
    Column("est_fidelity", Float, nullable=False),
    Column("compliance_domains", JSON, nullable=False),  # sorted list
    Column("is_simulator", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Append-only: one row per settled lease; the unique lease_id makes charging idempotent.
usage_ledger = Table(
    "pq_usage_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(200), nullable=False),
    Column("job_id", String(200), nullable=False),
    Column("lease_id", String(64), nullable=False, unique=True),
    Column("device", String(200), nullable=False),
    Column("qpu_seconds", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # completed|preempted|failed|expired
    Column("at", Float, nullable=False),
)

tenant_usage = Table(
    "pq_tenant_usage",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("decayed_qpu_seconds", Float, nullable=False),
    Column("as_of", Float, nullable=False),
)

checkpoints = Table(
    "pq_checkpoints",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("lease_id", String(64), nullable=False),
    Column("device", String(200), nullable=False),
    Column("shots_done", Integer, nullable=False),
    Column("qpu_seconds", Float, nullable=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Append-only, hash-chained: hash = sha256(prev_hash + canonical JSON of the record).
audit_log = Table(
    "pq_audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("job_id", String(200), nullable=True),
    Column("tenant", String(200), nullable=True),
    Column("device", String(200), nullable=True),
    Column("reason", Text, nullable=True),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_pq_audit_job", "job_id"),
)

# Tenants and their hashed secrets ([T1]); no row at all means the store is open ([T2]).
tenants = Table(
    "pq_tenants",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("secret_hash", String(255), nullable=False),  # scrypt$n$r$p$salt$hash, see tenants
    Column("role", String(16), nullable=False),  # tenant | operator
    Column("created_at", Float, nullable=False),
    Column("rotated_at", Float, nullable=True),
)

# Cancellations of running jobs asked for and not yet applied ([T5]).
cancellations = Table(
    "pq_cancellations",
    metadata,
    Column("job_id", String(200), primary_key=True),
    Column("requested_by", String(200), nullable=True),
    Column("requested_at", Float, nullable=False),
)
