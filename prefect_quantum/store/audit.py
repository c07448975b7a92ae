"""The append-only, hash-chained audit log: one record per decision and lifecycle event.

Each record's ``hash`` is ``sha256(prev_hash + canonical_json(record))`` where the record
is ``seq, at, kind, job_id, tenant, device, reason, detail``; the first record chains from
``GENESIS_HASH``. Records are appended only inside the store's serialized write
transactions, so ``seq`` is gap-free and the chain is linear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from prefect_quantum.store.schema import AUDIT_KINDS, audit_log

GENESIS_HASH = "0" * 64
_INSERT = audit_log.insert()
CHAINED_FIELDS = ("seq", "at", "kind", "job_id", "tenant", "device", "reason", "detail")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the same bytes for the same record."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The chained hash of one record (only `CHAINED_FIELDS` count)."""
    body = canonical_json({name: record[name] for name in CHAINED_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def verify_chain(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The ``seq`` of the first record whose links or hash do not match, None if intact.

    `records` must be the whole log in ``seq`` order.
    """
    prev = GENESIS_HASH
    expected_seq = 1
    for record in records:
        if (
            record["seq"] != expected_seq
            or record["prev_hash"] != prev
            or record["hash"] != record_hash(prev, record)
        ):
            return int(record["seq"])
        prev = record["hash"]
        expected_seq += 1
    return None


class AuditWriter:
    """Appends records within one write transaction, from the chain `head` as locked;
    `execute(statement, rows)` writes them (the transaction's `engine.Writes`)."""

    def __init__(self, execute: Callable[[Any, list[dict[str, Any]]], None],
                 head: tuple[int, str]) -> None:
        self._execute = execute
        self.head = head  # (seq, hash) of the last record
        self.records: list[dict[str, Any]] = []

    def append(
        self,
        at: float,
        kind: str,
        *,
        job_id: str | None = None,
        tenant: str | None = None,
        device: str | None = None,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one record (``kind`` one of `AUDIT_KINDS`)."""
        if kind not in AUDIT_KINDS:
            raise ValueError(f"unknown audit kind {kind!r}")
        seq, prev_hash = self.head
        record: dict[str, Any] = {
            "seq": seq + 1, "at": at, "kind": kind, "job_id": job_id,
            "tenant": tenant, "device": device, "reason": reason,
            "detail": dict(detail or {}),
        }
        record["prev_hash"] = prev_hash
        record["hash"] = record_hash(prev_hash, record)
        self.records.append(record)
        self.head = (seq + 1, record["hash"])

    def flush(self) -> None:
        """Insert the records appended since the last flush."""
        if self.records:
            self._execute(_INSERT, self.records)
            self.records = []


def read_audit(conn: Connection, job_id: str | None = None) -> list[dict[str, Any]]:
    """Audit records in ``seq`` order, all or one job's."""
    query = select(audit_log).order_by(audit_log.c.seq)
    if job_id is not None:
        query = query.where(audit_log.c.job_id == job_id)
    return [dict(row._mapping) for row in conn.execute(query)]
