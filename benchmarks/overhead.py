"""Flow overhead: ``hybrid_job`` vs the same work done by plain calls of the layers.

Same 50 circuits, same device, same process (warm), side by side and interleaved; each run
uses its own transpile seed so neither path profits from the other's transpile cache.
Runs on Prefect's local ephemeral API (SQLite), as the CLI does. Prints JSON.

    python benchmarks/overhead.py [--circuits 50] [--shots 4000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from prefect_quantum import pipeline
from prefect_quantum.cli import quick_flows
from prefect_quantum.fleet import Fleet, FleetConfig
from prefect_quantum.flows import hybrid_job
from prefect_quantum.job import JobRequest
from prefect_quantum.reservation import LocalReserver
from prefect_quantum.results import circuit_rows

DEVICE = "ibm_brussels"


def circuits(n: int) -> list[str]:
    """A mix of small built-ins, as a batch of a typical job."""
    specs = [f"ghz:{3 + i % 4}" for i in range(n // 2)]
    return specs + [f"hea:{2 + i % 4}:2" for i in range(n - len(specs))]


def plain(specs: list[str], shots: int, seed: int, fleet: Fleet) -> float:
    """The job's stages as plain function calls; returns seconds."""
    started = time.perf_counter()
    request = JobRequest.build(specs, shots, options={"seed": seed, "devices": (DEVICE,)})
    job = pipeline.prepare(request)
    devices = pipeline.candidate_devices(request, fleet)
    compiled = pipeline.compile_for(job, devices)
    checks = pipeline.check_calibration(job, devices, compiled)
    reserver = LocalReserver()
    lease = reserver.reserve(pipeline_request(request.job_id, checks[0].device))
    device = fleet.get(lease.device)
    batch = pipeline.build_batch(job, compiled[device.name])
    execution = pipeline.run_batch(device, batch, job)
    reserver.release(lease, qpu_seconds=execution.qpu_seconds)
    values = pipeline.mitigate(job, device, compiled[device.name], execution.counts)
    circuit_rows([{"circuit": c.name, "raw_value": v.raw_value} for c, v in
                  zip(request.circuits, values, strict=True)])
    return time.perf_counter() - started


def pipeline_request(job_id: str, device: str):  # type: ignore[no-untyped-def]
    from prefect_quantum.reservation import ReservationRequest

    return ReservationRequest(job_id, "default", "normal", (device,), 60.0, "noisy", device)


def flow(specs: list[str], shots: int, seed: int, fleet: Fleet) -> float:
    """The same job through the hybrid_job flow; returns seconds."""
    started = time.perf_counter()
    hybrid_job(specs, shots, options={"seed": seed, "devices": (DEVICE,)}, fleet=fleet)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--circuits", type=int, default=50)
    parser.add_argument("--shots", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args()
    fleet = Fleet.from_config(FleetConfig(devices=(DEVICE,)))
    specs = circuits(args.circuits)
    with quick_flows():
        first = time.perf_counter()
        # Warm up both paths at full size: API start, imports, noise-model caches.
        flow(specs, args.shots, 1, fleet)
        plain(specs, args.shots, 2, fleet)
        warmup = time.perf_counter() - first
        flow_s, plain_s = [], []
        for r in range(args.repeats):  # alternate which goes first
            pair = [(flow, flow_s, 100 + r), (plain, plain_s, 200 + r)]
            for fn, sink, seed in pair if r % 2 == 0 else pair[::-1]:
                sink.append(fn(specs, args.shots, seed, fleet))
    flow_med, plain_med = statistics.median(flow_s), statistics.median(plain_s)
    stall_bound = flow_med + 2.0
    print(json.dumps({
        "benchmark": "flow_overhead",
        "circuits": args.circuits,
        "shots": args.shots,
        "device": DEVICE,
        "repeats": args.repeats,
        "warmup_s": round(warmup, 3),
        "flow_s": [round(x, 3) for x in flow_s],
        "plain_s": [round(x, 3) for x in plain_s],
        "flow_median_s": round(flow_med, 3),
        "plain_median_s": round(plain_med, 3),
        "overhead_s": round(flow_med - plain_med, 3),
        "ratio": round(flow_med / plain_med, 3),
        "target_ratio": 1.3,
        "stalls": [round(x, 3) for x in flow_s if x > stall_bound],
    }, indent=2))


if __name__ == "__main__":
    main()
