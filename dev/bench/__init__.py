"""Benchmarks (``python -m dev.bench``): our pack against the poll-and-sleep baseline, measured
in the same run through the same harness. Not part of the pack, and not timed tests."""
