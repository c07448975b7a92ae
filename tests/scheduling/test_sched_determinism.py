"""`decide` gives identical decisions in fresh interpreters with different hash seeds
(set and dict iteration orders differ there), as the simulator and the store rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import hashlib, random
from prefect_quantum.scheduling import (
    DeviceState, Lease, PolicyConfig, Request, Snapshot, TenantUsage, decide)
rng = random.Random(7)
devices = tuple(DeviceState(f"q{i}", True, rng.choice((27, 127)), rng.choice((3e4, 2e5)),
                            est_fidelity=rng.uniform(0.6, 0.9),
                            compliance_domains=frozenset({"fed"}) if i % 4 == 0 else frozenset())
                for i in range(12))
tenants = [f"t{i}" for i in range(9)]
waiting = tuple(Request(f"j{k}", rng.choice(tenants), rng.randrange(4), float(rng.randrange(50)),
                        rng.uniform(1, 500), rng.choice((5, 50)),
                        compliance_domain=rng.choice((None, None, "fed")),
                        max_wait_s=rng.choice((float("inf"), 100.0)))
                for k in range(400))
leases = tuple(Lease(f"r{i}", d.name, rng.choice(tenants), rng.randrange(3), 0.0, 1e9,
                     work_remaining_s=rng.uniform(0, 900), submitted_at=0.0)
               for i, d in enumerate(devices) if i % 2)
usage = {t: TenantUsage(t, rng.uniform(0, 1e4), 0.0) for t in tenants}
out = decide(Snapshot(1000.0, waiting, leases, devices, usage), PolicyConfig())
assert out.grants and out.preemptions
print(hashlib.sha256(repr(out).encode()).hexdigest())
"""


def test_F3_same_decisions_under_any_hash_seed() -> None:
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                                env=env, cwd=root, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip())
    assert len(digests) == 1
