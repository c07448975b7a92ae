"""Chaos fixtures: the harness lives in ``benchmarks/_chaos.py`` (shared with
``benchmarks/reliability.py``); a store URL on SQLite and on PostgreSQL.

PostgreSQL comes from ``PREFECT_QUANTUM_TEST_PG_URL`` (default
``postgresql+psycopg://127.0.0.1:5432/test``), one fresh schema per test (the pattern of
``tests/store/conftest.py``); unreachable, the PostgreSQL cases skip, except under
``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

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
def chaos_pg_url() -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema, dropped after the test."""
    reason = _pg_unreachable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    schema = f"pq_chaos_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = sa.make_url(PG_URL).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # Connections the test left (a SIGKILLed worker's) must not block the drop.
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE 'pq_chaos_%' AND state = 'idle in transaction'"
            ))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def chaos_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scheduler.db'}"
    url: str = request.getfixturevalue("chaos_pg_url")
    return url
