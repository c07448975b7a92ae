"""The scheduler, measured: the policy core's decision rate, and reserve-release cycles
through the store side by side with Prefect's own global concurrency limit.

1. The pure core (`benchmarks/scheduler_core.py`): decisions per second with 1k/10k/100k
   waiting requests, 50 devices, 100 tenants.
2. Reserve-release cycles per second with 8 processes through the store on SQLite and on
   PostgreSQL (`benchmarks/scheduler_store.py`).
3. The same 8 processes doing acquire-release with `prefect.concurrency.sync.concurrency`
   against one Prefect API (a `prefect server start` on loopback that this script starts
   and stops), as the baseline a Prefect user would reach for.

    python benchmarks/scheduler.py [--seconds 10] [--processes 8] [--skip-core]

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from scheduler_store import _postgres, measure_store_cycles


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_prefect_server(home: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("prefect server did not start within 120 s")


def _gcl_worker(api: str, name: str, seconds: float, start: Any, out: Any) -> None:
    os.environ["PREFECT_API_URL"] = api
    from prefect.concurrency.sync import concurrency

    latencies: list[float] = []
    start.wait()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        with concurrency(name, occupy=1, strict=True):
            pass
        latencies.append(time.perf_counter() - began)
    out.put(latencies)


def measure_prefect_gcl(api: str, processes: int, seconds: float) -> dict[str, Any]:
    """Acquire-release cycles per second on a Prefect global concurrency limit."""
    os.environ["PREFECT_API_URL"] = api
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    name = "qpu-bench"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=processes)
        )
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_gcl_worker, args=(api, name, seconds, start, out))
               for _ in range(processes)]
    for w in workers:
        w.start()
    time.sleep(8.0)  # let every worker import prefect before the clock starts
    start.set()
    latencies = [x for _ in workers for x in out.get(timeout=seconds + 300)]
    for w in workers:
        w.join()
    return _summary(latencies, seconds)


def _summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "cycles": len(ordered),
        "cycles_per_s": round(len(ordered) / seconds, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1),
        "worst_stall_ms": round(1000 * ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--skip-core", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"processes": args.processes, "seconds": args.seconds}
    if not args.skip_core:
        core = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "scheduler_core.py")],
            capture_output=True, text=True, check=True,
        )
        report["core"] = json.loads(core.stdout)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = measure_store_cycles(
            f"sqlite:///{tmp}/bench.db", processes=args.processes, seconds=args.seconds
        )
        report["store_sqlite"] = sqlite
        pg_url = os.environ.get(
            "PREFECT_QUANTUM_BENCH_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test"
        )
        report["store_postgresql"] = _postgres(pg_url, args.processes, args.seconds)
        server, api = _start_prefect_server(tmp)
        try:
            report["prefect_gcl"] = measure_prefect_gcl(api, args.processes, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    gcl = report["prefect_gcl"]["cycles_per_s"]
    report["ratio_vs_prefect_gcl"] = {
        k: round(report[k]["cycles_per_s"] / gcl, 2)
        for k in ("store_sqlite", "store_postgresql")
        if "cycles_per_s" in report[k] and gcl
    }
    report["target_ratio"] = 10.0
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
