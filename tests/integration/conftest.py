"""Real infrastructure shared by the integration tests: a fresh PostgreSQL database and a
`prefect server start` on a loopback port with its database there.

One database, one server and one deployment serve the whole session (starting and deploying
takes ~25 s); each test module starts and stops its own workers. Everything is stopped and
dropped at the end of the session. Needs the PostgreSQL server of
`PREFECT_QUANTUM_TEST_PG_URL` (the tests skip without it, except under CI=true).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("PREFECT_QUANTUM_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> str:
    """Run a command from the repository root with `env`; its stdout, asserting success."""
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[:2500]
    return done.stdout


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., str]:
    """`run_cli(env, *args)`: run a command from the repository root, return its stdout."""
    return _run


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the Prefect server and the scheduler store."""
    name = f"pq_e2e_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc.orig}")
    try:
        yield str(sa.make_url(PG_URL).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"
            ), {"d": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`prefect server start` on a loopback port, its database on PostgreSQL."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api_db = database.replace("postgresql+psycopg", "postgresql+asyncpg")
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": api_db,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_QUANTUM_HOME": str(ROOT),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = open(home / "server.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((home / "server.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield {**env, "STORE_URL": database}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


@pytest.fixture(scope="session")
def deployed(server: dict[str, str], run_cli: Callable[..., str]) -> dict[str, str]:
    """Blocks registered, the `quantum` pool, every deployment and the automations, as
    docs/operations.md tells an operator: `prefect deploy --all` from the repository root."""
    py = sys.executable
    run_cli(server, py, "blocks/register.py")
    run_cli(server, py, "-m", "prefect", "work-pool", "create", "quantum", "--type", "process")
    run_cli(server, py, "-m", "prefect", "--no-prompt", "deploy", "--all")
    run_cli(server, py, "-m", "prefect", "automation", "create",
            "--from-file", "deployments/automations.yaml")
    return server
