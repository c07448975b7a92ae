"""Engines for the scheduler store and the one transaction a decision pass runs in ([S1]).

SQLite (the default, a file under the user's data directory) runs in WAL mode with a busy
timeout; pysqlite's own transaction handling is switched off so that every write
transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy docs, "Serializable isolation /
Savepoints / Transactional DDL"). PostgreSQL serializes writers with ``SELECT ... FOR
UPDATE`` on the single row of ``scheduler_lock``. Transient failures (a lock held past the
busy timeout, a lost connection) surface as :class:`StoreBusyError`.

On PostgreSQL every round trip made while the scheduler row is locked delays every other
writer, so a transaction's writes (`Writes`) are queued and sent together, in one
pipeline (psycopg's pipeline mode), with the next read or with the ``COMMIT``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, cast

import platformdirs
from sqlalchemy import (
    ClauseElement,
    Connection,
    Engine,
    Executable,
    create_engine,
    event,
    select,
    text,
)
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
_PENDING = "pq_pending_writes"  # Connection.info key: the open transaction's `Writes`
# Built once: the scheduler row, locked ([S1]; SQLite ignores FOR UPDATE).
_LOCK = select(scheduler_lock).where(scheduler_lock.c.id == 1).with_for_update()


def default_url() -> str:
    """``sqlite:///<user data dir>/prefect-quantum/scheduler.db``; the directory is created."""
    directory = platformdirs.user_data_dir("prefect-quantum")
    os.makedirs(directory, exist_ok=True)
    return f"sqlite:///{os.path.join(directory, 'scheduler.db')}"


def is_sqlite(engine: Engine) -> bool:
    """True for the SQLite backend."""
    return engine.dialect.name == "sqlite"


def can_pipeline(engine: Engine) -> bool:
    """True on PostgreSQL through psycopg 3 with a libpq that has pipeline mode (14+);
    other drivers send every statement on its own."""
    return _can_pipeline(engine.dialect.name, engine.dialect.driver)


@functools.cache
def _can_pipeline(backend: str, driver: str) -> bool:
    if backend != "postgresql" or driver != "psycopg":
        return False
    try:
        import psycopg

        return bool(psycopg.capabilities.has_pipeline())
    except Exception:  # an older psycopg or libpq
        return False


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

    @event.listens_for(engine, "before_execute")
    def _flush_queued_writes(conn: Connection, *_: Any) -> None:
        # Any statement sees the writes queued before it: they are sent first.
        writes = conn.info.get(_PENDING)
        if writes is not None:
            writes.flush()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Waiting for the scheduler row longer than the busy timeout fails like SQLite's
        # "database is locked" (lock_not_available -> StoreBusyError).
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
            # Floats as text (the pass reads its state as JSON) in the shortest form
            # that reads back exactly, whatever the server's default.
            cursor.execute("SET extra_float_digits = 3")
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


_pg_compiled: dict[tuple[ClauseElement, tuple[str, ...], str], tuple[str, Any]] = {}


def _pg_statement(conn: Connection, stmt: ClauseElement, keys: tuple[str, ...]) -> tuple[str, Any]:
    """`stmt` compiled once per parameter key set for PostgreSQL (keys decide an
    ``INSERT``'s columns and an ``UPDATE``'s ``SET`` clause); keyed by the statement
    object itself, so statements should be module-level constants."""
    cache_key = (stmt, keys, conn.dialect.driver)
    found = _pg_compiled.get(cache_key)
    if found is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        found = _pg_compiled[cache_key] = (compiled.string, compiled)
    return found


class JsonRow(dict[str, Any]):
    """A row read outside SQLAlchemy (PostgreSQL pipelines, JSON), read like a `Row`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> JsonRow:
        return self


Query = tuple[ClauseElement | str, dict[str, Any] | None]
"""A statement with its parameters, or plain SQL (PostgreSQL only) with None."""


class Writes:
    """The writes of one write transaction, none of which needs its result.

    On SQLite each runs at once. On PostgreSQL they are queued and sent in one pipeline
    (one round trip) with the next statement of the transaction (the engine's
    ``before_execute`` hook sends them first), with `fetch` or with the ``COMMIT``;
    statements keep their order, so the transaction's outcome is the same. Statements
    must be module-level constants (compiled once per parameter key set). Queued and
    fetched statements bypass SQLAlchemy's execution events.
    """

    def __init__(self, conn: Connection, queued: bool) -> None:
        self._conn = conn
        self._queue: list[tuple[str, list[dict[str, Any]]]] | None = [] if queued else None

    @property
    def conn(self) -> Connection:
        """The transaction's connection, for reads."""
        return self._conn

    @property
    def pipelined(self) -> bool:
        """True on PostgreSQL."""
        return self._queue is not None

    def _bind(self, stmt: ClauseElement, rows: list[dict[str, Any]]
              ) -> tuple[str, list[dict[str, Any]]]:
        sql, compiled = _pg_statement(self._conn, stmt, tuple(sorted(rows[0])))
        processors = compiled._bind_processors
        bound = []
        for row in rows:
            values = compiled.construct_params(row)
            for name, process in processors.items():
                if name in values:
                    values[name] = process(values[name])
            bound.append(values)
        return sql, bound

    def __call__(self, stmt: ClauseElement, params: dict[str, Any] | Sequence[dict[str, Any]]
                 ) -> None:
        """Execute `stmt` with `params` (one dict, or several for executemany)."""
        if self._queue is None:
            self._conn.execute(stmt, params)  # type: ignore[call-overload]
            return
        rows = [params] if isinstance(params, dict) else list(params)
        if rows:
            self._queue.append(self._bind(stmt, rows))

    def flush(self) -> None:
        """Send the queued writes now (PostgreSQL)."""
        if self._queue:
            self._send((), commit=False)

    def fetch(self, queries: Sequence[Query]) -> list[list[Any]]:
        """The rows of each query, in order; on PostgreSQL sent with the queued writes
        in one round trip."""
        if self._queue is None:
            return [list(self._conn.execute(
                text(q) if isinstance(q, str) else cast(Executable, q), p or {}
            )) for q, p in queries]
        return self._send(queries, commit=False)

    def commit(self) -> None:
        """Send the queued writes and ``COMMIT`` in one round trip (PostgreSQL); the
        engine's own commit then finds the transaction closed and does nothing."""
        if self._queue is not None:
            self._send((), commit=True)

    def _send(self, queries: Sequence[Query], *, commit: bool) -> list[list[Any]]:
        assert self._queue is not None
        queue, self._queue = self._queue, []
        raw: Any = self._conn.connection.driver_connection
        statement = "COMMIT"
        try:
            if not queue and not queries:
                if commit:
                    raw.commit()
                return []
            cursors = []
            with raw.pipeline():
                for statement, rows in queue:
                    cursor = raw.cursor()
                    if len(rows) == 1:
                        cursor.execute(statement, rows[0], prepare=True)
                    else:
                        cursor.executemany(statement, rows)
                for query, params in queries:
                    if isinstance(query, str):
                        statement, args = query, None
                    else:
                        statement, bound = self._bind(query, [params or {}])
                        args = bound[0]
                    cursor = raw.cursor()
                    cursor.execute(statement, args, prepare=True)
                    cursors.append(cursor)
                if commit:  # answered by the pipeline's closing sync: one round trip
                    statement = "COMMIT"
                    raw.cursor().execute(b"COMMIT")
            out = []
            for cursor in cursors:
                names = [column.name for column in cursor.description]
                out.append([JsonRow(zip(names, row, strict=True)) for row in cursor.fetchall()])
            return out
        except self._conn.dialect.loaded_dbapi.Error as error:
            disconnect = self._conn.dialect.is_disconnect(error, raw, None)
            if disconnect:
                self._conn.invalidate(error)
            raise sa_exc.DBAPIError.instance(
                statement, None, error, self._conn.dialect.loaded_dbapi.Error,
                connection_invalidated=disconnect, dialect=self._conn.dialect,
            ) from error


@contextmanager
def write_transaction(
    engine: Engine, prefetch: Sequence[Query] = (),
) -> Iterator[tuple[Connection, Any, Writes, list[list[Any]]]]:
    """One serialized write transaction ([S1]): ``BEGIN IMMEDIATE`` on SQLite, the
    scheduler row lock on PostgreSQL; yields the connection, the locked row, the
    transaction's `Writes` and the rows of the `prefetch` queries, run right after the
    lock (on PostgreSQL in the lock's round trip: the server runs them in order, each
    with a snapshot taken after the lock is held). Commits on success, rolls back on
    any error."""
    queued = can_pipeline(engine)
    with _writer_queue(engine), translate_errors(engine), engine.begin() as conn:
        writes = Writes(conn, queued)
        if queued and prefetch:
            lock_rows, *fetched = writes.fetch([(_LOCK, None), *prefetch])
            lock = lock_rows[0]
        else:
            lock = conn.execute(_LOCK).one()
            fetched = writes.fetch(prefetch) if prefetch else []
        if queued:
            conn.info[_PENDING] = writes
        try:
            yield conn, lock, writes, fetched
            writes.commit()
        finally:
            conn.info.pop(_PENDING, None)


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
