"""Every way the ICPP model lets one job run: a set of >= 2 devices in chain order, with
its fidelity, its duration (communication chain + slowest device) and the qubits it holds
on each device. Orders only move the model's +1 remainder qubits, so one canonical order
per set (fast devices first) is enough for planning."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prefect_quantum.simulation.icpp_model import (
    ICPP_DEVICES,
    IcppDevice,
    IcppJob,
    comm_links,
    job_fidelity,
    process_time,
    split_qubits,
)


@dataclass(frozen=True, slots=True)
class Config:
    """One device set for one job (`devices` are indices in chain order)."""

    devices: tuple[int, ...]
    split: tuple[int, ...]
    fidelity: float
    comm_s: float
    duration_s: float  # communication chain + processing


def device_sets(devices: Sequence[IcppDevice] = ICPP_DEVICES) -> list[tuple[int, ...]]:
    """All subsets of >= 2 devices, each ordered fastest first (ties by list order)."""
    order = sorted(range(len(devices)), key=lambda i: (-devices[i].clops, i))
    return [
        tuple(sorted(subset, key=order.index))
        for n in range(2, len(devices) + 1)
        for subset in itertools.combinations(range(len(devices)), n)
    ]


def job_configs(job: IcppJob, devices: Sequence[IcppDevice] = ICPP_DEVICES) -> list[Config]:
    """The job's feasible configurations (each device's share fits its qubits)."""
    configs = []
    for subset in device_sets(devices):
        split = split_qubits(job.num_qubits, len(subset))
        if any(q > devices[i].num_qubits for i, q in zip(subset, split, strict=True)):
            continue
        used = [devices[i] for i in subset]
        links = comm_links(split)
        comm = sum(round(s, 4) for s in links)
        duration = sum(links) + max(process_time(d, job.num_shots) for d in used)
        configs.append(Config(subset, tuple(split), job_fidelity(job, used), comm, duration))
    return configs


@dataclass(frozen=True)
class ConfigTable:
    """All jobs' configurations as arrays: rows are (job, config) pairs."""

    job: np.ndarray  # int, job position
    fidelity: np.ndarray
    duration: np.ndarray
    comm: np.ndarray
    floor_qubit_s: np.ndarray  # (rows, devices): floor(Q/n) * duration on used devices
    packed_qubit_s: np.ndarray  # same, a share over half a device counted as all of it
    configs: tuple[Config, ...]


def config_table(jobs: Sequence[IcppJob],
                 devices: Sequence[IcppDevice] = ICPP_DEVICES) -> ConfigTable:
    """Build the table; `floor_qubit_s` is a lower bound on any order's qubit-seconds;
    `packed_qubit_s` charges a share larger than half a device as the whole device (two
    such shares never fit together), the planner's estimate."""
    rows: list[Config] = []
    owner: list[int] = []
    for j, job in enumerate(jobs):
        for config in job_configs(job, devices):
            rows.append(config)
            owner.append(j)
    usage = np.zeros((len(rows), len(devices)))
    packed = np.zeros((len(rows), len(devices)))
    for r, config in enumerate(rows):
        base = min(config.split)
        for i, q in zip(config.devices, config.split, strict=True):
            usage[r, i] = base * config.duration_s
            size = devices[i].num_qubits
            packed[r, i] = (size if 2 * q > size else q) * config.duration_s
    return ConfigTable(
        job=np.array(owner, dtype=np.int64),
        fidelity=np.array([c.fidelity for c in rows]),
        duration=np.array([c.duration_s for c in rows]),
        comm=np.array([c.comm_s for c in rows]),
        floor_qubit_s=usage,
        packed_qubit_s=packed,
        configs=tuple(rows),
    )
