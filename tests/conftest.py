"""Shared fixtures: one Prefect test harness per session, only for tests that ask for it,
and a fresh PostgreSQL schema per test.

PostgreSQL comes from ``PREFECT_QUANTUM_TEST_PG_URL`` (default
``postgresql+psycopg://127.0.0.1:5432/test``). When the server is unreachable the
PostgreSQL cases skip with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
import sqlalchemy as sa

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

PG_URL = os.environ.get(
    "PREFECT_QUANTUM_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)


@cache
def _pg_unreachable_reason() -> str | None:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return f"PostgreSQL at {PG_URL} unreachable ({type(error).__name__}: {error})"
    return None


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema, dropped after the test."""
    reason = _pg_unreachable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    schema = f"pq_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    # Throwaway schemas need no commit durability: synchronous_commit=off saves an fsync
    # per transaction and keeps the multi-process tests short.
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = sa.make_url(PG_URL).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # Connections a test left behind (a SIGKILLed worker's) must not block the drop.
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE 'pq_chaos_%' AND state = 'idle in transaction'"
            ))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API and database for the whole session, with flow heartbeats off."""
    from prefect.settings import temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(), temporary_settings(
        updates={"flows.heartbeat_frequency": None}
    ):
        yield


# Prefect's fixture that records emitted events (used by the scheduler event tests).
from prefect.testing.fixtures import asserting_events_worker  # noqa: E402, F401
