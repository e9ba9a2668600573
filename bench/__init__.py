"""Benchmarks a person can run; their figures are in docs/performance.md."""
