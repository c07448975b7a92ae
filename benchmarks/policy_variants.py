"""Configurations of the production `decide` against issue #4's criteria, printed as JSON.

Each variant is `production_tolerant`'s configuration with some fields replaced; each is
simulated over the default traces, calm and degraded, and compared with the baselines the
criteria name (static priority, FIFO, the oracle) on the same seeds. This is how the
"less preemption" table of docs/benchmarks.md was measured.

Run: ``python benchmarks/policy_variants.py [--seeds 20]`` (~15 s a variant, plus the
baselines).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

from prefect_quantum.scheduling import PolicyConfig
from prefect_quantum.simulation.bench import (
    BENCH_CONFIG,
    acceptance,
    run_bench,
    summarize,
    tolerant_config,
)

BASE = tolerant_config(BENCH_CONFIG)
VARIANTS: dict[str, dict[str, Any]] = {
    "production_tolerant": {},
    "no_preemption": {"max_preemptions_per_job": 0},
    "min_run_600": {"min_run_s": 600.0},
    "kappa16_no_preemption": {"work_weight": 16.0, "max_preemptions_per_job": 0},
    "kappa16_no_preemption_H5h": {"work_weight": 16.0, "max_preemptions_per_job": 0,
                                  "aging_rate": 1 / 18_000},
    "kappa20_no_preemption": {"work_weight": 20.0, "max_preemptions_per_job": 0},
    "kappa24_no_preemption": {"work_weight": 24.0, "max_preemptions_per_job": 0},
    "kappa16_no_preemption_tau1": {"work_weight": 16.0, "max_preemptions_per_job": 0,
                                   "fair_tolerance": 1.0},
    "kappa18_no_preemption_half_life_30min": {"work_weight": 18.0, "max_preemptions_per_job": 0,
                                              "half_life_s": 1800.0},
    "weight_fidelity3": {"weight_fidelity": 3.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    baselines = summarize(run_bench(seeds=args.seeds,
                                    policies=("static_priority", "fifo", "oracle")).runs)
    out = []
    for name, fields in VARIANTS.items():
        # run_bench's "production" row runs `decide` with the config it is given.
        config: PolicyConfig = replace(BASE, **fields)
        rows = summarize(run_bench(seeds=args.seeds, policies=("production",),
                                   config=config).runs)
        checks = acceptance(rows.vstack(baselines), candidates=("production",))
        out.append({"variant": name, "fields": fields,
                    "checks": [{k: c[k] for k in ("scenario", "criterion", "value", "met")}
                               for c in checks]})
    print(json.dumps({"benchmark": "policy_variants", "seeds": args.seeds, "variants": out,
                      "seconds": round(time.perf_counter() - start, 1)}, indent=1))


if __name__ == "__main__":
    main()
