"""Store fixtures: every test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL is the ``pg_schema_url`` fixture of tests/conftest.py: a fresh schema per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from store_helpers import FakeClock, MakeStore

from prefect_quantum.scheduling import PolicyConfig
from prefect_quantum.store import SchedulerStore


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
