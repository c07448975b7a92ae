"""The project's deployable flows; ``from flows import vqe, qaoa`` gives the flow objects."""

from flows.qaoa import qaoa
from flows.vqe import vqe

__all__ = ["qaoa", "vqe"]
