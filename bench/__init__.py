"""Benchmarks and data generators (DESIGN.md §2): not tests, run with `make bench`."""
