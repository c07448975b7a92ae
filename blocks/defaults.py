"""The saved block documents, as code: the default fleet and the default scheduler.

Edit these and run ``python blocks/register.py`` to save them to the Prefect API.
"""

from __future__ import annotations

from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

DEFAULT_FLEET = QuantumFleet(
    devices=["ibm_strasbourg", "ibm_brussels", "ibm_kyiv", "ibm_torino", "ibm_fez", "ibm_kawasaki"],
    month="03_2025",
    compliance={"fedramp": ["ibm_kyiv", "ibm_kawasaki"]},
)

DEFAULT_SCHEDULER = QuantumScheduler(
    fleet_config=DEFAULT_FLEET,
    shares={"chem-team": 2.0, "ml-team": 1.0, "ops": 1.0},
    default_share=1.0,
    half_life_s=86_400.0,
    preemption_grace_s=60.0,
    min_run_s=120.0,
    retries=3,
    retry_backoff_s=1.0,
    fallback="noisy",
)

DOCUMENTS = {"default": (DEFAULT_FLEET, DEFAULT_SCHEDULER)}
