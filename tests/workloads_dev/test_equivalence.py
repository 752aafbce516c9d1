"""JAX vs PyTorch: the same weights give the same logits and loss.

Random Flax weights are copied into the PyTorch model with
``workloads._convert``; both forward passes then run on the same random
batch, in EVAL mode (running batch-norm statistics) and in TRAIN mode
(batch statistics), and the masked, label-smoothed losses are compared.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

from algoperf_ray import spec  # noqa: E402
from algoperf_ray.benchmark.registry import get_meta, load_workload  # noqa: E402
from algoperf_ray.workload.base import random_field  # noqa: E402
from algoperf_ray.workloads._convert import load_flax_into_torch  # noqa: E402

CASES = [("digits", {}, 64), ("mnist", {}, 32), ("cifar", {"num_filters": 8}, 16)]


def _random_variables(abstract: dict, seed: int) -> tuple[dict, dict | None]:
    """Random values for every Flax variable (BN variances kept positive)."""
    gen = np.random.default_rng(seed)

    def fill(path, leaf):
        x = 0.2 * gen.standard_normal(leaf.shape).astype(np.float32)
        return np.abs(x) + 0.5 if path[-1].key == "var" else x

    variables = jax.tree_util.tree_map_with_path(fill, abstract)
    state = {k: v for k, v in variables.items() if k != "params"}
    return variables["params"], (state or None)


@functools.cache  # build once per workload, not per test
def _both(name: str, kwargs_items: tuple, batch_size: int):
    """Both leaves of ``name`` holding the same random weights, and a batch.

    Random weights (not the init) so zero-initialised BN scales and fresh
    batch statistics cannot hide a layout mistake; the init itself is tested
    in test_models.py. Flax variables come from ``abstract_variables`` (no
    XLA compile of the initialisers, which is slow on a loaded CPU).
    """
    kwargs = dict(kwargs_items)
    jw = load_workload(name, "jax", data_mode="synthetic", **kwargs)
    tw = load_workload(name, "pytorch", data_mode="synthetic", **kwargs)
    params, state = _random_variables(jw.abstract_variables(), seed=1)
    model, _ = tw.init_model_fn(np.array([0, 7], np.uint32))
    load_flax_into_torch(model, params, state, tw.jax_path)
    gen = np.random.default_rng(5)
    fields = get_meta(name).batch_fields
    batch = {k: random_field(gen, f, batch_size) for k, f in fields.items()}
    batch["weights"] = (gen.random(batch_size) > 0.25).astype(np.float32)
    return jw, tw, params, state, model, batch


@pytest.mark.parametrize("name,kwargs,batch_size", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", [spec.ForwardPassMode.EVAL, spec.ForwardPassMode.TRAIN])
def test_same_weights_same_logits_and_loss(name, kwargs, batch_size, mode):
    jw, tw, params, state, model, batch = _both(name, tuple(kwargs.items()), batch_size)
    jb = jw._to_device(batch, train=False)
    tb = tw._to_device(batch, train=False)
    train = mode == spec.ForwardPassMode.TRAIN
    model = copy.deepcopy(model)  # TRAIN mode updates BN buffers in place
    forward = jax.jit(functools.partial(jw.model_fn, mode=mode, rng=None,
                                        update_batch_norm=train))
    j_logits, _ = forward(params, jb, state)
    t_logits, _ = tw.model_fn(model, tb, None, mode, None, update_batch_norm=train)
    j_logits = np.asarray(j_logits)
    t_logits = t_logits.detach().numpy()
    assert j_logits.shape == t_logits.shape == (batch_size, 10)
    assert np.std(j_logits) > 1e-3  # not a degenerate, constant output
    np.testing.assert_allclose(j_logits, t_logits, rtol=2e-4, atol=2e-4)
    jl = jw.loss_fn(jb["targets"], j_logits, jb["weights"], label_smoothing=0.1)
    tl = tw.loss_fn(tb["targets"], torch.from_numpy(t_logits), tb["weights"],
                    label_smoothing=0.1)
    np.testing.assert_allclose(float(jl["summed"]), float(tl["summed"]), rtol=1e-4)
    assert float(jl["n_valid_examples"]) == float(tl["n_valid_examples"]) \
        == batch["weights"].sum()
    np.testing.assert_allclose(np.asarray(jl["per_example"]),
                               tl["per_example"].numpy(), rtol=1e-4, atol=1e-5)
    # Masked rows contribute nothing.
    assert np.all(np.asarray(jl["per_example"])[batch["weights"] == 0] == 0)


@pytest.mark.parametrize("name,kwargs,batch_size", CASES, ids=[c[0] for c in CASES])
def test_eval_metrics_agree(name, kwargs, batch_size):
    jw, tw, params, state, model, batch = _both(name, tuple(kwargs.items()), batch_size)
    j = jw._eval_batch(params, state, jw._to_device(batch, train=False), None)
    t = tw._eval_batch(model, None, tw._to_device(batch, train=False), None)
    assert float(j["accuracy"]) == pytest.approx(t["accuracy"], abs=1.0)  # argmax ties only
    assert float(j["loss"]) == pytest.approx(t["loss"], rel=1e-4)
    assert 0 <= t["accuracy"] <= batch["weights"].sum()
