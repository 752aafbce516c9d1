"""The tiny real-format ImageNet of tests/workloads_imagenet_resnet, built for these tests too."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_HELPER = Path(__file__).resolve().parents[1] / "workloads_imagenet_resnet" / "conftest.py"


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    spec = importlib.util.spec_from_file_location("imagenet_resnet_conftest", _HELPER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_tiny_imagenet(tmp_path_factory.mktemp("tiny_imagenet_vit"))
