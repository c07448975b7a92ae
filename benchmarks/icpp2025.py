"""The ICPP 2025 scenario, printed as JSON: one object per policy with `policy, makespan_s,
fidelity_mean, fidelity_sd, comm_s` (the paper's speed, fidelity and fair modes simulated,
PPO quoted from the paper, our operating points), the LP bound at each makespan, and the
wall time of the three paper modes.

Run: ``python benchmarks/icpp2025.py [--jobs CSV] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from prefect_quantum.simulation.icpp2025 import run_icpp
from prefect_quantum.simulation.icpp_model import DEFAULT_JOBS, load_jobs
from prefect_quantum.simulation.report import icpp_report, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=Path, default=DEFAULT_JOBS)
    parser.add_argument("--out", type=Path, help="also write report.md and the plot here")
    args = parser.parse_args()
    jobs = load_jobs(args.jobs)
    started = time.perf_counter()
    for mode in ("speed", "fidelity", "fair"):
        run_icpp(jobs, mode)
    modes_s = time.perf_counter() - started
    curve = (30_000.0, 60_000.0, 90_000.0, 120_000.0, 160_000.0, 210_000.0) if args.out else ()
    report = icpp_report(jobs, curve=curve)
    print(json.dumps({"policies": report.rows, "paper_modes_wall_s": round(modes_s, 2),
                      "total_wall_s": round(time.perf_counter() - started, 2)}, indent=1))
    if args.out:
        write_report(args.out, report, None)


if __name__ == "__main__":
    main()
