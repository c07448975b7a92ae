"""Reserve-release cycles per second through the scheduler store, several processes at once.

A cycle is what a job does around its QPU time: ``submit`` (a decision pass grants it a
device), ``poll`` until it holds a lease, ``release`` (usage, audit, another pass). Each
process runs cycles back to back on its own jobs; there are as many devices as processes
unless told otherwise, so waits come from the store's serialization, not from a lack of
devices. Prints JSON for SQLite (a temporary file) and PostgreSQL (a fresh schema at
``PREFECT_QUANTUM_BENCH_PG_URL``, default ``postgresql+psycopg://127.0.0.1:5432/test``).

Before that, one process alone runs `--single-cycles` cycles: CPU and wall milliseconds
per cycle, SQL statements per cycle (BEGIN and COMMIT included) and, on PostgreSQL,
round trips per cycle (statements the store pipelines share one).

    python benchmarks/scheduler_store.py [--seconds 10] [--processes 8] [--single-cycles 200]

`measure_store_cycles` and `measure_single_process` are importable for side-by-side
comparisons.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import sqlalchemy as sa
from load import pg_schema  # benchmarks/ is the script's directory

from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
from prefect_quantum.store import SchedulerStore
from prefect_quantum.store import engine as store_engine


def _one_cycle(store: SchedulerStore, job_id: str, tenant: str) -> None:
    status = store.submit(Request(job_id, tenant, 1, 0.0, 1.0, 2))
    while status.lease_id is None:
        time.sleep(0.001)
        status = store.poll(job_id)
    store.release(job_id, status.lease_id, qpu_seconds=0.001, outcome="completed",
                  shots_done=1)


def measure_single_process(url: str, cycles: int = 200) -> dict[str, Any]:
    """One process alone on the (empty) store at `url`: CPU and wall time, statements
    and round trips per reserve-release cycle."""
    store = SchedulerStore(url, PolicyConfig(), pass_interval_s=1.0)
    store.register_devices([DeviceState(f"qpu-{i:02d}", True, 10, 100_000.0)
                            for i in range(8)])
    counts = {"statements": 0, "round_trips": 0}

    def on_statement(*_: Any) -> None:
        counts["statements"] += 1
        counts["round_trips"] += 1

    def on_commit(conn: Any) -> None:
        raw = conn.connection.driver_connection
        if getattr(getattr(raw, "info", None), "transaction_status", None) == 0:
            return  # psycopg, idle: committed already (in the store's pipeline)
        on_statement()

    writes = getattr(store_engine, "Writes", None)  # absent before pipelining
    original = None if writes is None else writes._send

    def counting_send(self: Any, queries: Any, *, commit: bool) -> Any:
        # Statements the store queued and sends in one pipeline (PostgreSQL).
        sent = len(self._queue or ()) + len(queries) + int(commit)
        counts["statements"] += sent
        counts["round_trips"] += 1 if sent else 0
        return original(self, queries, commit=commit)  # type: ignore[misc]

    for k in range(20):  # warm up: connections, compiled statements, prepared plans
        _one_cycle(store, f"warm-{k}", "tenant-0")
    sa.event.listen(store._engine, "before_cursor_execute", on_statement)
    sa.event.listen(store._engine, "commit", on_commit)
    if writes is not None:
        writes._send = counting_send
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for k in range(cycles):
            _one_cycle(store, f"single-{k}", f"tenant-{k % 4}")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", on_statement)
        sa.event.remove(store._engine, "commit", on_commit)
        if writes is not None:
            writes._send = original
        store.close()
    postgres = sa.make_url(url).get_backend_name() == "postgresql"
    return {
        "cycles": cycles,
        "cpu_ms_per_cycle": 1000 * cpu / cycles,
        "wall_ms_per_cycle": 1000 * wall / cycles,
        "statements_per_cycle": counts["statements"] / cycles,
        "round_trips_per_cycle": counts["round_trips"] / cycles if postgres else None,
    }


def _cycles(url: str, index: int, seconds: float, start: Any, out: Any) -> None:
    store = SchedulerStore(url, PolicyConfig(), pass_interval_s=1.0)
    latencies: list[float] = []
    start.wait()
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        job_id = f"bench-{index}-{k}"
        k += 1
        began = time.perf_counter()
        _one_cycle(store, job_id, f"tenant-{index % 4}")
        latencies.append(time.perf_counter() - began)
    store.close()
    out.put(latencies)


def measure_store_cycles(
    url: str, processes: int = 8, seconds: float = 10.0, devices: int | None = None
) -> dict[str, Any]:
    """Run `processes` processes doing reserve-release cycles on the (empty) store at
    `url` for `seconds`; cycles per second in total and latency figures, the worst
    stall being the slowest single cycle."""
    setup = SchedulerStore(url, PolicyConfig())
    setup.register_devices([
        DeviceState(f"qpu-{i:02d}", True, 10, 100_000.0) for i in range(devices or processes)
    ])
    setup.close()
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_cycles, args=(url, i, seconds, start, out))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    time.sleep(2.0)  # let every process import and connect before the clock starts
    start.set()
    latencies: list[float] = []
    for _ in procs:
        latencies.extend(out.get(timeout=seconds + 120))
    for proc in procs:
        proc.join(30)
    latencies.sort()
    return {
        "backend": sa.make_url(url).get_backend_name(),
        "processes": processes,
        "devices": devices or processes,
        "seconds": seconds,
        "cycles": len(latencies),
        "cycles_per_s": len(latencies) / seconds,
        "latency_p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "latency_p99_ms": (1000 * latencies[int(0.99 * (len(latencies) - 1))]
                           if latencies else None),
        "worst_stall_ms": 1000 * latencies[-1] if latencies else None,
    }


def _sqlite(processes: int, seconds: float, single_cycles: int = 0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        single = measure_single_process(f"sqlite:///{os.path.join(directory, 'single.db')}",
                                        single_cycles) if single_cycles else None
        report = measure_store_cycles(f"sqlite:///{os.path.join(directory, 'bench.db')}",
                                      processes, seconds)
        return {**report, "single_process": single}


def _postgres(base_url: str, processes: int, seconds: float,
              single_cycles: int = 0) -> dict[str, Any]:
    """The cycles measurement (and with `single_cycles` the single-process one) on a
    fresh schema; `benchmarks/scheduler.py` calls it too."""
    single = None
    if single_cycles:
        with pg_schema(base_url) as url:
            if url is None:
                return {"backend": "postgresql", "skipped": "unreachable"}
            single = measure_single_process(url, single_cycles)
    with pg_schema(base_url) as url:
        if url is None:
            return {"backend": "postgresql", "skipped": "unreachable"}
        return {**measure_store_cycles(url, processes, seconds), "single_process": single}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--single-cycles", type=int, default=200,
                        help="cycles of the single-process measurement (0: skip it)")
    args = parser.parse_args(argv)
    pg_url = os.environ.get("PREFECT_QUANTUM_BENCH_PG_URL",
                            "postgresql+psycopg://127.0.0.1:5432/test")
    report = {
        "benchmark": "store reserve-release cycles",
        "cpu_count": os.cpu_count(),
        "load_avg_1m_before": os.getloadavg()[0],
        "sqlite": _sqlite(args.processes, args.seconds, args.single_cycles),
        "postgresql": _postgres(pg_url, args.processes, args.seconds, args.single_cycles),
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
