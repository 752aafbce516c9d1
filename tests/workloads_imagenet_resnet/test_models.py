"""ResNet-50 models: reference names, shapes, counts and init, in both frameworks.

Full-size checks allocate nothing (``describe`` uses ``jax.eval_shape`` and
PyTorch's meta device). The counts are compared with the metadata's
layer-size formula, and the names with the reference's naming scheme; the
init is checked on the reduced model.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.describe import describe
from algoperf_ray.benchmark.registry import get_meta, load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_resnet.convert import jax_path_fn
from algoperf_ray.workloads.imagenet_resnet.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

NAMES = [w.name for w in WORKLOADS]
FRAMEWORKS = ["jax", "pytorch"]
PT = spec.ParameterType


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", NAMES)
def test_full_size_count_matches_reference(name, framework):
    facts = describe(name, framework)
    assert facts["num_params"] == get_meta(name).num_params == 25_557_032
    shapes = facts["param_shapes"]
    if framework == "jax":
        # The first block of stage 4 (3 + 4 + 6 blocks before it) projects 1024 -> 2048.
        assert shapes["BottleneckResNetBlock_13/Conv_proj/kernel"] == [1, 1, 1024, 2048]
        assert "BottleneckResNetBlock_14/Conv_proj/kernel" not in shapes
        assert shapes["Conv_init/kernel"] == [7, 7, 3, 64]
        assert shapes["Dense_0/kernel"] == [2048, 1000]
    else:
        assert shapes["layer4.0.downsample.conv.weight"] == [2048, 1024, 1, 1]
        assert "layer4.1.downsample.conv.weight" not in shapes
        assert shapes["conv1.weight"] == [64, 3, 7, 7]
        assert shapes["fc.weight"] == [1000, 2048]


def test_jax_and_pytorch_names_correspond():
    """Every PyTorch layer maps to exactly one Flax layer (full size, no allocation)."""
    jax_names = set(describe("imagenet_resnet", "jax")["param_shapes"])
    torch_shapes = describe("imagenet_resnet", "pytorch")["param_shapes"]
    to_jax = jax_path_fn((3, 4, 6, 3))
    leaf = {"weight": ("kernel", "scale"), "bias": ("bias",)}
    mapped = set()
    for name in torch_shapes:
        module, kind = name.rsplit(".", 1)
        path = "/".join(to_jax(module))
        hits = [f"{path}/{k}" for k in leaf[kind] if f"{path}/{k}" in jax_names]
        assert len(hits) == 1, name
        mapped.add(hits[0])
    assert mapped == jax_names


def _reduced(name: str, framework: str):
    wl = load_workload(name, framework, data_mode="synthetic", **REDUCED_SIZE_KWARGS[name])
    params, state = wl.init_model_fn(rng_lib.PRNGKey(3))
    return wl, params, state


@pytest.mark.parametrize("name", ["imagenet_resnet", "imagenet_resnet_large_bn_init"])
def test_init_pytorch(name):
    wl, model, _ = _reduced(name, "pytorch")
    scale = get_meta(name).model_kwargs["bn_init_scale"]
    named = dict(model.named_parameters())
    last = [k for k in named if k.endswith("bn3.weight")]
    assert last and all(np.all(named[k].detach().numpy() == scale) for k in last)
    assert np.all(named["layer1.0.bn1.weight"].detach().numpy() == 1.0)
    fc = named["fc.weight"].detach().numpy()
    assert abs(fc.std() - 0.01) < 0.001 and np.all(named["fc.bias"].detach().numpy() == 0)
    conv = named["layer2.0.conv2.weight"].detach().numpy()  # LeCun normal: var = 1/fan_in
    assert abs(conv.var() * conv[0].size - 1.0) < 0.2
    assert wl.model_params_types["conv1.weight"] == PT.CONV_WEIGHT
    assert wl.model_params_types["layer1.0.bn3.weight"] == PT.BATCH_NORM_SCALE
    assert wl.is_output_params("fc.weight") and not wl.is_output_params("conv1.weight")


@pytest.mark.parametrize("name", ["imagenet_resnet", "imagenet_resnet_large_bn_init"])
def test_init_jax(name):
    wl, params, state = _reduced(name, "jax")
    scale = get_meta(name).model_kwargs["bn_init_scale"]
    blocks = [k for k in params if k.startswith("BottleneckResNetBlock_")]
    assert len(blocks) == 4
    for block in blocks:
        assert np.all(np.asarray(params[block]["BatchNorm_2"]["scale"]) == scale)
        assert np.all(np.asarray(params[block]["BatchNorm_0"]["scale"]) == 1.0)
    dense = np.asarray(params["Dense_0"]["kernel"])
    assert abs(dense.std() - 0.01) < 0.001
    assert set(state) == {"batch_stats"}
    assert np.all(np.asarray(state["batch_stats"]["BatchNorm_init"]["var"]) == 1.0)
    types = wl.model_params_types
    assert types["Conv_init"]["kernel"] == PT.CONV_WEIGHT
    assert types["BatchNorm_init"]["scale"] == PT.BATCH_NORM_SCALE
    assert wl.is_output_params("Dense_0")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_unknown_option_is_rejected(framework):
    with pytest.raises(TypeError, match="unknown option.*width"):
        load_workload("imagenet_resnet", framework, data_mode="synthetic", width=3)
