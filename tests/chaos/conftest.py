"""Chaos fixtures: the harness lives in ``benchmarks/_chaos.py`` (shared with
``benchmarks/reliability.py``); a store URL on SQLite and on PostgreSQL.

PostgreSQL is the ``pg_schema_url`` fixture of tests/conftest.py (a fresh schema per test;
unreachable, it skips, except under ``CI=true`` where it fails).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def chaos_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scheduler.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url
