"""Scheduled every 15 minutes: keep the fleet's calibration state honest.

Recalibrates devices older than the freshness bound (or marks them stale with
``refresh=False``), marks offline ones, detects drift against the previous snapshot, and
emits a Prefect event for each finding (``prefect-quantum.device.*``).
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from prefect_quantum.blocks import QuantumScheduler
from prefect_quantum.operations import DeviceSweep
from prefect_quantum.operations import calibration_sweep as sweep


@flow(name="calibration-sweep")
def calibration_sweep(
    scheduler_block: str = "default",
    refresh: bool = True,
    drift_threshold: float = 0.10,
    scheduler: QuantumScheduler | None = None,
) -> list[DeviceSweep]:
    """Check every device's calibration and publish the findings as a table artifact.

    Args:
        scheduler_block: Name of the saved QuantumScheduler block to sweep.
        refresh: Recalibrate stale devices; with False they are only marked stale.
        drift_threshold: Relative error-score change that counts as drift.
        scheduler: A scheduler object to use instead of loading the block.
    """
    scheduler = scheduler or QuantumScheduler.load(scheduler_block)
    report = sweep(scheduler, refresh=refresh, drift_threshold=drift_threshold)
    logger = get_run_logger()
    for row in report:
        if row.status != "ok":
            logger.warning("%s: %s (age %.0f s)", row.device, row.status, row.calibration_age_s)
    create_table_artifact([asdict(r) for r in report], key="calibration-sweep",
                          description="Calibration sweep: one row per device.")
    return report
