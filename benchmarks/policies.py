"""The policy benchmark, printed as JSON: one object per scenario and policy with the means
over seeds of every metric (prefect_quantum.simulation.metrics), plus the acceptance checks
of issue #4 and the wall time.

Run: ``python benchmarks/policies.py [--seeds 20] [--scenario calm] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from prefect_quantum.simulation.bench import acceptance, run_bench, summarize
from prefect_quantum.simulation.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--scenario", choices=["calm", "degraded"], action="append")
    parser.add_argument("--out", type=Path, help="also write report.md and plots here")
    args = parser.parse_args()
    started = time.perf_counter()
    bench = run_bench(args.scenario or ["calm", "degraded"], args.seeds)
    summary = summarize(bench.runs)
    print(json.dumps({"policies": summary.to_dicts(), "acceptance": acceptance(summary),
                      "seeds": args.seeds,
                      "wall_s": round(time.perf_counter() - started, 2)}, indent=1))
    if args.out:
        write_report(args.out, None, bench)


if __name__ == "__main__":
    main()
