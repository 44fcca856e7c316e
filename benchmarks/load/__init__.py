"""Pieces of `benchmarks.annotate_load`: settings and URLs that add the bare view, the wrk script."""
