"""Benchmarks: commands run by hand (``python -m bench.picker``), never as timed tests."""
