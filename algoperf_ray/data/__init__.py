"""Frozen benchmark data files (read with importlib.resources)."""
