"""A stand-in ComfyUI host for tests, the demo and the benchmarks (not part of the pack)."""
