"""The project's deployable flows: variational demos (``vqe``, ``qaoa``)."""

from flows.qaoa import qaoa
from flows.vqe import vqe

__all__ = ["qaoa", "vqe"]
