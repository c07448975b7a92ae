"""Engines for the scheduler store and the one transaction a decision pass runs in ([S1]).

SQLite (the default, a file under the user's data directory) runs in WAL mode with a busy
timeout; pysqlite's own transaction handling is switched off so that every write
transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy docs, "Serializable isolation /
Savepoints / Transactional DDL"). PostgreSQL serializes writers with ``SELECT ... FOR
UPDATE`` on the single row of ``scheduler_lock``. Transient failures (a lock held past the
busy timeout, a lost connection) surface as :class:`StoreBusyError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import platformdirs
from sqlalchemy import Connection, Engine, Row, create_engine, event, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from prefect_quantum.errors import StoreBusyError
from prefect_quantum.store.audit import GENESIS_HASH
from prefect_quantum.store.schema import metadata, scheduler_lock

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone orders writers
    fcntl = None

# A constant key for pg_advisory_xact_lock around first-use table creation.
_PG_CREATE_LOCK_KEY = 0x5051_5343  # "PQSC"
_BEGIN_OPTION = "pq_sqlite_begin"


def default_url() -> str:
    """``sqlite:///<user data dir>/prefect-quantum/scheduler.db``; the directory is created."""
    directory = platformdirs.user_data_dir("prefect-quantum")
    os.makedirs(directory, exist_ok=True)
    return f"sqlite:///{os.path.join(directory, 'scheduler.db')}"


def is_sqlite(engine: Engine) -> bool:
    """True for the SQLite backend."""
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 15.0) -> Engine:
    """An engine for `url`; SQLite gets WAL, the busy timeout and ``BEGIN IMMEDIATE``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
        _install_sqlite_hooks(engine, busy_timeout_s)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_driver_name() == "psycopg" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = max(1, round(busy_timeout_s))
    # No pre-ping (a round trip per checkout): a dropped connection fails its transaction
    # as StoreBusyError, a transient error the caller retries, and the pool is refreshed.
    engine = create_engine(url, pool_recycle=1800, connect_args=connect_args)
    lock_timeout_ms = max(1, int(busy_timeout_s * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Waiting for the scheduler row longer than the busy timeout fails like SQLite's
        # "database is locked" (lock_not_available -> StoreBusyError).
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
        finally:
            cursor.close()
            dbapi_connection.autocommit = autocommit

    return engine


def _install_sqlite_hooks(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Stop pysqlite from issuing BEGIN itself; the "begin" hook below does it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _is_transient(error: sa_exc.DBAPIError, sqlite: bool) -> bool:
    if error.connection_invalidated:
        return True
    if sqlite:
        message = str(error.orig).lower()
        return isinstance(error, sa_exc.OperationalError) and (
            "locked" in message or "busy" in message
        )
    # PostgreSQL: connection failures, admin shutdowns, lock and serialization timeouts.
    return isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError))


@contextmanager
def translate_errors(engine: Engine) -> Iterator[None]:
    """Re-raise transient database failures as :class:`StoreBusyError`."""
    try:
        yield
    except sa_exc.DBAPIError as error:
        if _is_transient(error, is_sqlite(engine)):
            raise StoreBusyError(f"scheduler store busy or unreachable: {error.orig}") from error
        raise


@contextmanager
def _writer_queue(engine: Engine) -> Iterator[None]:
    """On a SQLite file, queue writers on an advisory ``flock`` of ``<db>.writers`` first.

    SQLite's busy handler retries a locked ``BEGIN IMMEDIATE`` with sleeps growing to
    100 ms, so under contention one process can lose every race for seconds; a blocked
    ``flock`` is woken by the kernel the moment the holder's transaction ends. The lock
    dies with its process, and ``BEGIN IMMEDIATE`` with the busy timeout still guards the
    database against writers outside this queue.
    """
    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:" or fcntl is None:
        yield
        return
    fd = os.open(f"{database}.writers", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new open file description per writer
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def write_transaction(engine: Engine) -> Iterator[tuple[Connection, Row[Any]]]:
    """One serialized write transaction ([S1]): ``BEGIN IMMEDIATE`` on SQLite, the
    scheduler row lock on PostgreSQL; yields the connection and the locked row.
    Commits on success, rolls back on any error."""
    with _writer_queue(engine), translate_errors(engine), engine.begin() as conn:
        lock = select(scheduler_lock).where(scheduler_lock.c.id == 1).with_for_update()
        yield conn, conn.execute(lock).one()


@contextmanager
def read_transaction(engine: Engine, *, consistent: bool = True) -> Iterator[Connection]:
    """Reads without the writers' lock: one snapshot for all statements (a deferred BEGIN
    on SQLite), or with `consistent` False on PostgreSQL, each statement on its own
    (autocommit: no BEGIN/COMMIT round trips)."""
    with translate_errors(engine), engine.connect() as raw:
        if is_sqlite(engine):
            conn = raw.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        elif not consistent:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        else:
            conn = raw
        with conn.begin():
            yield conn


def create_schema(engine: Engine) -> None:
    """Create the tables and the lock row if missing; safe when many processes race."""
    with translate_errors(engine), engine.begin() as conn:
        if not is_sqlite(engine):
            # Serializes concurrent CREATE TABLE across processes (catalog races).
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CREATE_LOCK_KEY})
        metadata.create_all(conn, checkfirst=True)
        exists = conn.execute(select(scheduler_lock.c.id).where(scheduler_lock.c.id == 1))
        if exists.first() is None:
            conn.execute(scheduler_lock.insert().values(
                id=1, last_pass_at=None, audit_seq=0, audit_hash=GENESIS_HASH
            ))
