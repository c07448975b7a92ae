"""Store fixtures: every test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL comes from ``PREFECT_QUANTUM_TEST_PG_URL`` (default
``postgresql+psycopg://127.0.0.1:5432/test``); each test gets its own schema, dropped
afterwards. When the server is unreachable the PostgreSQL cases skip, except under
``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from functools import cache

import pytest
import sqlalchemy as sa
from store_helpers import FakeClock

from prefect_quantum.scheduling import PolicyConfig
from prefect_quantum.store import SchedulerStore

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
    # per transaction and keeps the multi-process test short.
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    url = sa.make_url(PG_URL).update_query_dict({"options": options})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 'scheduler.db')}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeStore = Callable[..., SchedulerStore]


@pytest.fixture
def make_store(store_url: str, clock: FakeClock) -> Iterator[MakeStore]:
    """Build stores on the test's backend (fake clock unless given); closed afterwards."""
    made: list[SchedulerStore] = []

    def make(policy: PolicyConfig | None = None, **kwargs: object) -> SchedulerStore:
        kwargs.setdefault("clock", clock)
        store = SchedulerStore(store_url, policy or PolicyConfig(), **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
