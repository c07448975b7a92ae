"""Shared fixtures: one Prefect test harness per session, only for tests that ask for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


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
