"""The policy benchmark, printed as JSON: one object per scenario and policy with the means
over seeds of every metric (prefect_quantum.simulation.metrics), plus the acceptance checks
of issue #4 and the wall time.

Run: ``python benchmarks/policies.py [--seeds 20] [--scenario calm] [--out DIR]
[--value-bound]``; ``--value-bound`` adds, per scenario, the mean over seeds of the LP upper
bound on business-value throughput (prefect_quantum.simulation.value_bound; ~5 s a seed)
and how far above FIFO's mean it lies (`value_bound_over_fifo`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from prefect_quantum.simulation.bench import DEFAULT_LOAD, acceptance, run_bench, summarize
from prefect_quantum.simulation.fleet_model import scenario
from prefect_quantum.simulation.report import write_report
from prefect_quantum.simulation.trace import generate_trace
from prefect_quantum.simulation.value_bound import value_rate_bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scenario", choices=["calm", "degraded"], action="append")
    parser.add_argument("--out", type=Path, help="also write report.md and plots here")
    parser.add_argument("--value-bound", action="store_true",
                        help="also compute the LP bound on value_per_h (slow)")
    args = parser.parse_args()
    started = time.perf_counter()
    scenarios = args.scenario or ["calm", "degraded"]
    bench = run_bench(scenarios, args.seeds)
    summary = summarize(bench.runs)
    out: dict[str, object] = {"policies": summary.to_dicts(), "acceptance": acceptance(summary),
                              "seeds": args.seeds}
    if args.value_bound:
        bounds = {
            name: statistics.fmean(
                value_rate_bound(generate_trace(seed, load=DEFAULT_LOAD), scenario(name), seed)
                for seed in range(args.seeds))
            for name in scenarios
        }
        fifo = {row["scenario"]: row["value_per_h"] for row in summary.to_dicts()
                if row["policy"] == "fifo"}
        out["value_per_h_bound"] = bounds
        # Issue #4 asks for +20 % over FIFO: reachable at all only if the bound allows it.
        out["value_bound_over_fifo"] = {name: bounds[name] / fifo[name] - 1.0
                                        for name in scenarios}
    out["wall_s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(out, indent=1))
    if args.out:
        write_report(args.out, None, bench)


if __name__ == "__main__":
    main()
