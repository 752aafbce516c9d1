"""Every Conformer workload takes a forward + backward train step, both frameworks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from algoperf_ray.workloads.librispeech_conformer.metadata import REDUCED_SIZE_KWARGS

_spec = importlib.util.spec_from_file_location(
    "librispeech_train_step_check", Path(__file__).parent / "train_step_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", list(REDUCED_SIZE_KWARGS))
def test_train_step(name: str, framework: str) -> None:
    check.check_train_step(name, framework, REDUCED_SIZE_KWARGS[name],
                           check_frozen_bn=name == "librispeech_conformer")
