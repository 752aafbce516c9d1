"""Model facts of the dev workloads: parameter counts, shapes, kinds, init.

Counts must equal the reference's (recorded as ``meta.num_params``) in both
frameworks, at full size. Flax shapes come from ``abstract_variables``
(traced, not compiled), PyTorch ones from ``init_model_fn``; loading zeros
of the Flax shapes into the PyTorch model checks every shape pairwise.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

from algoperf_ray import spec  # noqa: E402
from algoperf_ray.benchmark.registry import get_meta, load_workload  # noqa: E402
from algoperf_ray.compat.param_utils import count_params  # noqa: E402
from algoperf_ray.workloads._convert import load_flax_into_torch  # noqa: E402

NAMES = ["digits", "mnist", "cifar"]
KEY = np.array([0, 3], np.uint32)


@pytest.mark.parametrize("name", NAMES)
def test_param_counts_equal_reference_in_both_frameworks(name):
    meta = get_meta(name)
    jw = load_workload(name, "jax", data_mode="synthetic")
    tw = load_workload(name, "pytorch", data_mode="synthetic")
    flax_vars = jw.abstract_variables()
    model, state = tw.init_model_fn(KEY)
    assert state is None  # PyTorch keeps BN buffers in the module, as the reference
    n_torch = sum(p.numel() for p in model.parameters())
    assert count_params(flax_vars["params"]) == n_torch == meta.num_params
    assert count_params(tw.param_shapes) == meta.num_params
    # Every PyTorch parameter has a Flax twin of the same (converted) shape.
    zeros = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, np.float32), flax_vars)
    load_flax_into_torch(model, zeros["params"], {k: v for k, v in zeros.items()
                                                  if k != "params"}, tw.jax_path)
    assert all(not p.detach().any() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_param_kinds_agree_between_frameworks(name):
    jw = load_workload(name, "jax", data_mode="synthetic")
    tw = load_workload(name, "pytorch", data_mode="synthetic")
    tw.init_model_fn(KEY)
    from algoperf_ray.compat.param_utils import jax_param_shapes, jax_param_types

    jax_types = jax_param_types(jax_param_shapes(jw.abstract_variables()["params"]))
    j = collections.Counter(jax.tree_util.tree_leaves(jax_types))
    t = collections.Counter(tw.model_params_types.values())
    assert j == t
    assert spec.ParameterType.WEIGHT in t and spec.ParameterType.BIAS in t
    if name == "cifar":  # 20 convs, 20 batch norms (scale + bias) in ResNet-18
        assert t[spec.ParameterType.CONV_WEIGHT] == 20
        assert t[spec.ParameterType.BATCH_NORM_SCALE] == t[spec.ParameterType.BATCH_NORM_BIAS] == 20


def _trunc_lecun_ok(w: np.ndarray, fan_in: int) -> None:
    std = math.sqrt(1.0 / fan_in)
    assert np.std(w) == pytest.approx(std, rel=0.15)
    assert np.max(np.abs(w)) <= 2 * std / 0.8796 + 1e-6  # truncated at 2 sigma


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_mlp_init_scheme_both_frameworks(name):
    jw = load_workload(name, "jax", data_mode="synthetic")
    tw = load_workload(name, "pytorch", data_mode="synthetic")
    params, state = jw.init_model_fn(KEY)
    assert state is None
    first = np.asarray(params["Dense_0"]["kernel"])
    _trunc_lecun_ok(first, first.shape[0])
    assert not np.any(np.asarray(params["Dense_0"]["bias"]))
    assert jw.is_output_params(sorted(params)[-1])
    model, _ = tw.init_model_fn(KEY)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    _trunc_lecun_ok(linears[0].weight.detach().numpy(), linears[0].in_features)
    assert not linears[0].bias.detach().any()
    names = [n for n, _ in model.named_parameters()]
    assert [tw.is_output_params(n) for n in names] == [False, False, True, True]


def test_cifar_torch_init_scheme():
    tw = load_workload("cifar", "pytorch", data_mode="synthetic")
    model, _ = tw.init_model_fn(KEY)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    _trunc_lecun_ok(sd["layer2.0.conv1.weight"], 64 * 9)
    assert np.std(sd["fc.weight"]) == pytest.approx(0.01, rel=0.1)
    assert not sd["layer3.1.bn2.weight"].any()  # zero-init last BN of each branch
    assert np.all(sd["layer3.1.bn1.weight"] == 1)
    assert tw.is_output_params("fc.weight") and not tw.is_output_params("conv1.weight")


@pytest.mark.slow  # compiling the Flax ResNet-18 initialisers takes ~1 min on 2 busy cores
def test_cifar_jax_init_scheme():
    jw = load_workload("cifar", "jax", data_mode="synthetic", num_filters=16)
    params, state = jw.init_model_fn(KEY)
    assert set(state) == {"batch_stats"}
    block = params["ResNetBlock_2"]
    _trunc_lecun_ok(np.asarray(block["Conv_0"]["kernel"]), 16 * 9)
    assert not np.asarray(block["BatchNorm_1"]["scale"]).any()
    assert np.all(np.asarray(block["BatchNorm_0"]["scale"]) == 1)
    assert np.std(np.asarray(params["Dense_0"]["kernel"])) == pytest.approx(0.01, rel=0.2)
    assert np.all(np.asarray(state["batch_stats"]["BatchNorm_init"]["var"]) == 1)
