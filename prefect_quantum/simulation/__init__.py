"""Discrete-event benchmark harness: the ICPP 2025 multi-QPU reproduction and the policy
benchmark that drives production's `scheduling.decide` on a simulated clock
(docs/benchmarks.md). Imports only `scheduling`, numpy, polars and the standard library."""
