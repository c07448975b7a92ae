"""Deployment entry point of the canonical hybrid job flow.

Deployments point at ``flows/hybrid_job.py:hybrid_job``; the flow itself lives in the
library (``prefect_quantum.flows``) so notebooks and deployments run the same code.
"""

from prefect_quantum.flows import hybrid_job

__all__ = ["hybrid_job"]
