"""Reserve-release cycles per second through the scheduler store, several processes at once.

A cycle is what a job does around its QPU time: ``submit`` (a decision pass grants it a
device), ``poll`` until it holds a lease, ``release`` (usage, audit, another pass). Each
process runs cycles back to back on its own jobs; there are as many devices as processes
unless told otherwise, so waits come from the store's serialization, not from a lack of
devices. Prints JSON for SQLite (a temporary file) and PostgreSQL (a fresh schema at
``PREFECT_QUANTUM_BENCH_PG_URL``, default ``postgresql+psycopg://127.0.0.1:5432/test``).

    python benchmarks/scheduler_store.py [--seconds 10] [--processes 8]

`measure_store_cycles` is importable for side-by-side comparisons.
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
import uuid
from typing import Any

import sqlalchemy as sa

from prefect_quantum.scheduling import DeviceState, PolicyConfig, Request
from prefect_quantum.store import SchedulerStore


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
        status = store.submit(Request(job_id, f"tenant-{index % 4}", 1, 0.0, 1.0, 2))
        while status.lease_id is None:
            time.sleep(0.001)
            status = store.poll(job_id)
        store.release(job_id, status.lease_id, qpu_seconds=0.001, outcome="completed",
                      shots_done=1)
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


def _sqlite(processes: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        return measure_store_cycles(f"sqlite:///{os.path.join(directory, 'bench.db')}",
                                    processes, seconds)


def _postgres(base_url: str, processes: int, seconds: float) -> dict[str, Any]:
    schema = f"pq_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        return {"backend": "postgresql", "skipped": f"unreachable: {error.orig}"}
    url = sa.make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        return measure_store_cycles(url.render_as_string(hide_password=False),
                                    processes, seconds)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=8)
    args = parser.parse_args(argv)
    pg_url = os.environ.get("PREFECT_QUANTUM_BENCH_PG_URL",
                            "postgresql+psycopg://127.0.0.1:5432/test")
    report = {
        "benchmark": "store reserve-release cycles",
        "cpu_count": os.cpu_count(),
        "load_avg_1m_before": os.getloadavg()[0],
        "sqlite": _sqlite(args.processes, args.seconds),
        "postgresql": _postgres(pg_url, args.processes, args.seconds),
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
