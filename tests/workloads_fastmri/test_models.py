"""U-Net models: reference names/shapes/counts at full size, JAX<->PyTorch equivalence.

Full-size shapes come from ``jax.eval_shape`` and PyTorch's ``meta`` device,
so nothing of the 7.8M-parameter models is allocated. The expected names and
shapes are those of the reference's own models (recorded in
``reference_param_shapes.json``); the counts are also checked against the
closed-form ``metadata.num_params``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from algoperf_ray import spec
from algoperf_ray.benchmark.registry import get_meta, load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri.convert import flax_to_torch_state
from algoperf_ray.workloads.fastmri.metadata import REDUCED_SIZE_KWARGS, WORKLOADS
from algoperf_ray.workloads.fastmri.models_jax import UNet as JaxUNet
from algoperf_ray.workloads.fastmri.models_torch import UNet as TorchUNet

NAMES = [w.name for w in WORKLOADS]
REFERENCE = json.loads((Path(__file__).parent / "reference_param_shapes.json").read_text())


def _jax_shapes(name: str) -> dict[str, list[int]]:
    workload = load_workload(name, "jax", data_mode="synthetic")
    params, _ = jax.eval_shape(workload.init_model_fn, rng_lib.PRNGKey(0))
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {"/".join(k.key for k in path): list(v.shape) for path, v in flat}


def _torch_shapes(name: str) -> dict[str, list[int]]:
    workload = load_workload(name, "pytorch", data_mode="synthetic")
    with torch.device("meta"):
        model, _ = workload.init_model_fn(rng_lib.PRNGKey(0))
    return {k: list(p.shape) for k, p in model.named_parameters()}


@pytest.mark.parametrize("name", NAMES)
def test_full_size_parameters_equal_the_reference(name: str) -> None:
    ref = REFERENCE[name]
    jax_shapes, torch_shapes = _jax_shapes(name), _torch_shapes(name)
    assert jax_shapes == ref["jax"]
    assert list(torch_shapes.items()) == list(ref["torch"].items())  # order too
    expected = get_meta(name).num_params
    assert sum(math.prod(s) for s in jax_shapes.values()) == expected
    assert sum(math.prod(s) for s in torch_shapes.values()) == expected


def test_reference_counts() -> None:
    """The published sizes: 7.76M (base, tanh), 7.69M (model_size), +5,888 LayerNorm."""
    counts = {w.name: w.num_params for w in WORKLOADS}
    assert counts == {"fastmri": 7_756_097, "fastmri_model_size": 7_692_929,
                      "fastmri_tanh": 7_756_097, "fastmri_layernorm": 7_761_985}


@pytest.mark.parametrize("name", NAMES)
def test_output_params_exist(name: str) -> None:
    kw = REDUCED_SIZE_KWARGS[name]
    jax_wl = load_workload(name, "jax", data_mode="synthetic", **kw)
    torch_wl = load_workload(name, "pytorch", data_mode="synthetic", **kw)
    params, _ = jax.eval_shape(jax_wl.init_model_fn, rng_lib.PRNGKey(0))
    assert [k for k in params if jax_wl.is_output_params(k)] == ["Conv_0"]
    model, _ = torch_wl.init_model_fn(rng_lib.PRNGKey(0))
    outs = [k for k, _ in model.named_parameters() if torch_wl.is_output_params(k)]
    assert len(outs) == 2 and all(model.get_parameter(k).shape[0] == 1 for k in outs)


def _random_params(model: JaxUNet, x: np.ndarray, seed: int) -> dict:
    """Init, then perturb every leaf (LayerNorm scale/bias would otherwise be 1/0)."""
    params = model.init({"params": jax.random.PRNGKey(seed)}, jnp.asarray(x), train=False)
    leaves, tree = jax.tree_util.tree_flatten(params["params"])
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    leaves = [v + 0.05 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys, strict=True)]
    return jax.tree_util.tree_unflatten(tree, leaves)


VARIANT_KW = [dict(num_channels=4, num_pool_layers=2),
              dict(num_channels=4, num_pool_layers=2, use_tanh=True),
              dict(num_channels=4, num_pool_layers=2, use_layer_norm=True),
              dict(num_channels=3, num_pool_layers=3)]


@pytest.mark.parametrize("kw", VARIANT_KW, ids=["base", "tanh", "layernorm", "deep"])
@pytest.mark.parametrize("size", [(32, 32), (37, 45)], ids=["even", "odd"])
def test_same_weights_same_outputs(kw: dict, size: tuple[int, int]) -> None:
    """Odd sizes exercise the reflect padding after each transposed conv."""
    x = np.random.default_rng(0).standard_normal((2, *size)).astype(np.float32)
    jax_model, torch_model = JaxUNet(**kw), TorchUNet(**kw)
    params = _random_params(jax_model, x, seed=3)
    names = [n for n, _ in torch_model.named_parameters()]
    state = flax_to_torch_state(params, names, kw["num_pool_layers"])
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    torch_model.eval()
    y_jax = np.asarray(jax_model.apply({"params": params}, jnp.asarray(x), train=False))
    with torch.no_grad():
        y_torch = torch_model(torch.from_numpy(x)[:, None])[:, 0].numpy()
    assert y_jax.shape == x.shape
    np.testing.assert_allclose(y_jax, y_torch, rtol=1e-4, atol=1e-4)


def test_conversion_rejects_a_wrong_mapping() -> None:
    params = _random_params(JaxUNet(num_channels=2, num_pool_layers=2),
                            np.zeros((1, 16, 16), np.float32), seed=0)
    names = [n for n, _ in TorchUNet(num_channels=2, num_pool_layers=2).named_parameters()]
    with pytest.raises(KeyError, match="without a PyTorch counterpart"):
        flax_to_torch_state(params, names[1:], 2)
    with pytest.raises(KeyError, match="no Flax counterpart"):
        flax_to_torch_state(params, [*names, "head.weight"], 2)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_dropout_rate_reaches_every_block(framework: str) -> None:
    """Rate 0 in TRAIN mode equals EVAL; a positive rate changes the output."""
    wl = load_workload("fastmri", framework, data_mode="synthetic",
                       **REDUCED_SIZE_KWARGS["fastmri"])
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = wl._to_device(next(wl.host_batches("train", 0, None, 2, train=True)), train=True)

    def run(mode: spec.ForwardPassMode, rate: float) -> np.ndarray:
        out, _ = wl.model_fn(params, batch, state, mode, rng_lib.PRNGKey(1), False,
                             dropout_rate=rate)
        return np.asarray(out.detach() if framework == "pytorch" else out)

    evaluated = run(spec.ForwardPassMode.EVAL, 0.0)
    np.testing.assert_allclose(run(spec.ForwardPassMode.TRAIN, 0.0), evaluated, atol=1e-5)
    assert np.abs(run(spec.ForwardPassMode.TRAIN, 0.5) - evaluated).max() > 1e-3


def test_jax_dropout_rate_may_be_traced() -> None:
    wl = load_workload("fastmri", "jax", data_mode="synthetic", **REDUCED_SIZE_KWARGS["fastmri"])
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = wl._to_device(next(wl.host_batches("train", 0, None, 2, train=True)), train=True)

    @jax.jit
    def step(p: dict, rate: jax.Array) -> jax.Array:
        out, _ = wl.model_fn(p, batch, state, spec.ForwardPassMode.TRAIN, rng_lib.PRNGKey(1),
                             False, dropout_rate=rate)
        return out

    assert not np.allclose(step(params, jnp.float32(0.0)), step(params, jnp.float32(0.3)))
