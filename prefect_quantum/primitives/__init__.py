"""Qiskit V2 primitives that run on the fleet, through the scheduler.

>>> from prefect_quantum.primitives import QuantumEstimator  # doctest: +SKIP
>>> with QuantumEstimator(scheduler=block, tenant="chem-team", mitigation="zne") as est:
...     evs = est.run([(ansatz, hamiltonian, x)]).result()[0].data.evs  # doctest: +SKIP
"""

from .estimator import QuantumEstimator
from .job import QuantumJob
from .options import IDEAL, PrimitiveOptions
from .sampler import QuantumSampler

__all__ = ["IDEAL", "PrimitiveOptions", "QuantumEstimator", "QuantumJob", "QuantumSampler"]
