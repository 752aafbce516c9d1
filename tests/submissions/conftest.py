"""Fixtures for the submission tests: the tiny workloads and fixture files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load_helper():
    name = "_algoperf_ray_tests_tiny_workloads"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "tiny_workloads.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def tiny():
    """The tiny_workloads helper module."""
    return _load_helper()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return HERE / "fixtures"
