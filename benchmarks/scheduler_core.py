"""Throughput of the pure policy core, `scheduling.decide`, printed as JSON.

Scenario: 50 QPUs, 100 tenants with Zipf-like usage, N waiting requests (1k, 10k, 100k)
of mixed classes, sizes and constraints (10% restricted to 3-device subsets, 5% compliance).

- ``cold``: every device free; one pass places 50 jobs.
- ``steady``: 49 devices busy at the top waiting class, one freed (the common pass, on
  release); one placement.
- ``preempt``: all devices busy with low-class jobs past min_run_s; urgent requests arrive.

A *decision* is one grant, preemption or fallback. ``decisions_per_s`` is decisions made
divided by wall time spent inside ``decide``; ``passes_per_s`` is ``decide`` calls per
second; ``ms_per_pass`` is the median wall time of one call.

Run: ``python benchmarks/scheduler_core.py [--sizes 1000 10000 100000] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

from prefect_quantum.scheduling import (
    DeviceState,
    Lease,
    PolicyConfig,
    Request,
    Snapshot,
    TenantUsage,
    decide,
)

NOW = 1_000_000.0


def fleet(rng: random.Random) -> tuple[DeviceState, ...]:
    qpus = [
        DeviceState(
            name=f"qpu{i:02d}",
            online=True,
            num_qubits=rng.choice((127, 133, 156)),
            speed=rng.choice((29_000.0, 32_000.0, 220_000.0, 250_000.0)),
            calibration_age_s=rng.uniform(0, 20_000),
            est_fidelity=rng.uniform(0.6, 0.95),
            compliance_domains=frozenset({"fedramp"}) if i % 10 == 0 else frozenset(),
        )
        for i in range(50)
    ]
    aer = DeviceState("aer", True, 1000, 1e6, is_simulator=True,
                      compliance_domains=frozenset({"fedramp"}))
    return (*qpus, aer)


def waiting(n: int, rng: random.Random, *, offset: int = 0) -> tuple[Request, ...]:
    out = []
    for k in range(n):
        subset = None
        domain = "fedramp" if rng.random() < 0.05 else None
        if domain is None and rng.random() < 0.1:
            subset = frozenset(f"qpu{rng.randrange(50):02d}" for _ in range(3))
        out.append(Request(
            job_id=f"j{offset + k:07d}",
            tenant=f"t{rng.randrange(100):03d}",
            priority_class=rng.choice((0, 0, 1, 1, 1, 2)),
            submitted_at=NOW - rng.uniform(0, 3_000),
            work_s=rng.uniform(1, 600),
            num_qubits=rng.choice((5, 20, 27, 100)),
            allowed_devices=subset,
            compliance_domain=domain,
        ))
    return tuple(out)


def usage(rng: random.Random) -> dict[str, TenantUsage]:
    return {
        f"t{i:03d}": TenantUsage(f"t{i:03d}", 50_000.0 / (i + 1), NOW - rng.uniform(0, 3600))
        for i in range(100)
    }


def leases(devices: tuple[DeviceState, ...], skip: int, cls: int) -> tuple[Lease, ...]:
    return tuple(
        Lease(f"run{i}", d.name, f"t{i % 100:03d}", cls, NOW - 600.0, NOW + 30.0,
              work_remaining_s=3_000.0, work_done_s=600.0, checkpointed_s=500.0)
        for i, d in enumerate(devices)
        if not d.is_simulator and i >= skip
    )


def measure(snapshot: Snapshot, config: PolicyConfig, repeat: int) -> dict[str, float]:
    times: list[float] = []
    counts: dict[str, int] = {}
    decisions = 0
    cpu: list[float] = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = decide(snapshot, config)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        counts = {"grants": len(out.grants), "preemptions": len(out.preemptions),
                  "fallbacks": len(out.fallbacks)}
        decisions = sum(counts.values())
    total = sum(times)
    return {
        **counts,
        "decisions_per_pass": decisions,
        "ms_per_pass": round(statistics.median(times) * 1000, 3),
        "cpu_ms_per_pass": round(statistics.median(cpu) * 1000, 3),
        "best_ms_per_pass": round(min(times) * 1000, 3),
        "passes_per_s": round(repeat / total, 1),
        "decisions_per_s": round(decisions * repeat / total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(42)
    devices, tenant_usage, config = fleet(rng), usage(rng), PolicyConfig()
    results = []
    for n in args.sizes:
        queue = waiting(n, rng)
        urgent = waiting(60, rng, offset=n)
        urgent = tuple(
            Request(r.job_id, r.tenant, 3, NOW - 1.0, r.work_s, r.num_qubits) for r in urgent
        )
        scenarios = {
            "cold": Snapshot(NOW, queue, (), devices, tenant_usage),
            "steady": Snapshot(NOW, queue, leases(devices, 1, 2), devices, tenant_usage),
            "preempt": Snapshot(NOW, queue + urgent, leases(devices, 0, 0), devices,
                                tenant_usage),
        }
        for name, snapshot in scenarios.items():
            results.append({"waiting": len(snapshot.waiting), "devices": 50, "tenants": 100,
                            "scenario": name, **measure(snapshot, config, args.repeat)})
    print(json.dumps({
        "benchmark": "scheduling.decide",
        "definitions": {
            "decision": "one grant, preemption request or fallback returned by decide",
            "decisions_per_s": "decisions made / wall seconds spent inside decide",
            "passes_per_s": "decide calls / wall seconds spent inside decide",
            "ms_per_pass": "median wall milliseconds of one decide call",
            "cpu_ms_per_pass": "median CPU milliseconds of one call",
            "best_ms_per_pass": "fastest wall milliseconds of one call (least disturbed by "
                                "other load on the machine)",
        },
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
