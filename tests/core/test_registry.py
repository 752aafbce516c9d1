"""Workload registry: discovery, errors listing valid names, describe."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from algoperf_ray.benchmark import registry
from algoperf_ray.cli import app

BASE = ["criteo1tb", "fastmri", "imagenet_resnet", "imagenet_vit", "librispeech_conformer",
        "librispeech_deepspeech", "ogbg", "wmt"]


def test_every_base_workload_is_declared() -> None:
    names = registry.all_workloads()
    for name in BASE + ["mnist", "cifar"]:
        assert name in names


def test_unknown_workload_lists_valid_names() -> None:
    with pytest.raises(registry.UnknownWorkloadError) as err:
        registry.get_meta("imagenet_resnet50")
    text = str(err.value)
    assert "imagenet_resnet50" in text and "imagenet_resnet" in text and "wmt" in text


def test_unknown_framework_error() -> None:
    with pytest.raises(registry.UnknownFrameworkError, match="jax, pytorch"):
        registry.load_workload("mnist", "tensorflow")


def test_metadata_is_consistent() -> None:
    for meta in registry.all_workloads().values():
        assert meta.max_runtime_sec > 0 and meta.eval_period_sec > 0 and meta.step_hint > 0
        assert meta.eval_batch_size > 0
        if meta.base is not None:
            assert meta.base in registry.all_workloads(), meta.name


@pytest.mark.parametrize("name", ["fastmri", "librispeech_deepspeech"])
def test_describe_metadata_only_workload(name: str) -> None:
    res = CliRunner().invoke(app, ["describe", name])
    assert res.exit_code == 0, res.output
    facts = json.loads(res.output)
    assert facts["workload"] == name
    assert facts["step_hint"] == registry.get_meta(name).step_hint


def test_describe_unknown_workload_is_a_clean_error() -> None:
    res = CliRunner().invoke(app, ["describe", "nope"])
    assert res.exit_code == 2
    assert "unknown workload 'nope'" in res.output
