"""PNG plots of the benchmarks (matplotlib, imported only here and only when called)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect_quantum.simulation.bench import BenchRun
from prefect_quantum.simulation.icpp2025 import IcppResult
from prefect_quantum.simulation.metrics import waits, window_jain


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_front(results: Sequence[IcppResult], bound: Sequence[tuple[float, float]],
               quoted: Sequence[tuple[str, float, float]], path: Path) -> Path:
    """Mean fidelity against makespan: each run, quoted rows, and the LP bound curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if bound:
        xs, ys = zip(*sorted(bound), strict=True)
        ax.plot(xs, ys, "k--", label="LP upper bound")
    for r in results:
        marker = "o" if r.policy.startswith("ours") else "s"
        ax.scatter(r.makespan_s, r.fidelity_mean, marker=marker, label=r.policy)
    for name, makespan, fidelity in quoted:
        ax.scatter(makespan, fidelity, marker="x", label=f"{name} (quoted)")
    ax.set_xlabel("makespan (s)")
    ax.set_ylabel("mean fidelity")
    ax.set_title("ICPP 2025 scenario, 1000 large circuits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_waits(bench: BenchRun, scenario: str, path: Path) -> Path:
    """Wait-time distributions (seed 0), one box per policy."""
    plt = _pyplot()
    names = [p for (s, p) in bench.samples if s == scenario]
    data = [waits(bench.samples[(scenario, p)]) for p in names]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("wait (s), whiskers P5-P95")
    ax.set_title(f"wait times, {scenario} scenario, seed 0")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fairness(bench: BenchRun, scenario: str, path: Path) -> Path:
    """Jain's index per 30-minute window where all research tenants were backlogged."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for (s, policy), result in bench.samples.items():
        if s != scenario:
            continue
        points = window_jain(result)
        if points:
            xs = [w * result.window_s / 3600 for w, _ in points]
            ax.plot(xs, [j for _, j in points], marker=".", label=policy)
    ax.set_xlabel("hour")
    ax.set_ylabel("Jain index (equal-share tenants)")
    ax.set_ylim(0.3, 1.02)
    ax.set_title(f"fairness over time, {scenario} scenario, seed 0")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
