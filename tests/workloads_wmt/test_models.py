"""wmt Transformers: parameter counts, JAX/PyTorch equivalence, train steps."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.wmt import convert
from algoperf_ray.workloads.wmt.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

VARIANTS = [w.name for w in WORKLOADS]
FRAMEWORKS = ["jax", "pytorch"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_param_count_matches_reference(name, framework):
    """Counted without allocating (jax.eval_shape / torch meta device)."""
    from algoperf_ray.benchmark.describe import describe

    facts = describe(name, framework)
    assert facts["num_params"] == registry.get_meta(name).num_params
    emb = facts["param_shapes"]["shared_embedding/embedding" if framework == "jax"
                                else "shared_embedding.weight"]
    assert emb == [32000, 1024]


def _pair(name: str):
    import jax
    import torch

    kw = REDUCED_SIZE_KWARGS[name]
    wj = registry.load_workload(name, "jax", data_mode="synthetic", **kw)
    wt = registry.load_workload(name, "pytorch", data_mode="synthetic", **kw)
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(0))
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(0))
    state = convert.flax_to_torch(jax.tree_util.tree_map(np.asarray, pj), wj.cfg)
    pt.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=True)
    return wj, pj, wt, pt


def _jax_step(wl, dropout_rate):
    """Jitted (params, batch, rng) -> ((loss, logits), grads) of a training step."""
    import jax

    def loss(p, batch, rng):
        logits, _ = wl.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, rng, True,
                                dropout_rate=dropout_rate)
        out = wl.loss_fn(batch["targets"], logits, batch["weights"], 0.1)
        return out["summed"] / out["n_valid_examples"], logits

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def _torch_loss_logits(wl, model, batch, dropout_rate):
    import torch

    tb = {k: torch.from_numpy(v) for k, v in batch.items()}
    logits, _ = wl.model_fn(model, tb, None, spec.ForwardPassMode.TRAIN, rng_lib.PRNGKey(1),
                            True, dropout_rate=dropout_rate)
    out = wl.loss_fn(tb["targets"], logits, tb["weights"], 0.1)
    return out["summed"] / out["n_valid_examples"], logits


@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_agrees_between_jax_and_pytorch(name):
    """Same weights -> same logits, loss and gradients (forward + backward, packed batch)."""
    import jax

    wj, pj, wt, pt = _pair(name)
    assert sum(x.size for x in jax.tree_util.tree_leaves(pj)) == \
        sum(p.numel() for p in pt.parameters())
    batch = next(wj.host_batches("train", 1, None, 3, train=True))
    assert batch["targets_segmentation"].max() >= 2  # several pairs per row
    (value_j, logits_j), grads_j = _jax_step(wj, 0.0)(pj, batch, rng_lib.PRNGKey(1))
    value_j, logits_j = float(value_j), np.asarray(logits_j)
    grads_j = jax.tree_util.tree_map(np.asarray, grads_j)
    value_t, logits_t = _torch_loss_logits(wt, pt, batch, 0.0)
    value_t.backward()
    valid = batch["weights"] > 0
    np.testing.assert_allclose(logits_j[valid], logits_t.detach().numpy()[valid], atol=2e-4,
                               rtol=2e-4)
    assert value_j == pytest.approx(float(value_t.detach()), rel=1e-4)
    grads_t = convert.torch_to_flax({k: p.grad for k, p in pt.named_parameters()}, wj.cfg)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3), grads_j, grads_t)
    assert all(np.abs(g).sum() > 0 for g in jax.tree_util.tree_leaves(grads_j))
    # converting back gives the original Flax tree
    back = convert.torch_to_flax(pt.state_dict(), wj.cfg)
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), y), pj, back)
    # parameter kinds for submissions
    assert spec.ParameterType.ATTENTION_Q in jax.tree_util.tree_leaves(wj.model_params_types)
    assert wj.is_output_params("shared_embedding")
    assert set(wt.model_params_types) == {n for n, _ in pt.named_parameters()}
    assert wt.model_params_types["shared_embedding.weight"] == spec.ParameterType.EMBEDDING
    assert spec.ParameterType.ATTENTION_QKV in wt.model_params_types.values()


def test_default_dropout_is_active_in_training():
    wj, pj, wt, pt = _pair("wmt")
    batch = next(wj.host_batches("train", 1, None, 2, train=True))
    step = _jax_step(wj, None)
    a, b = (float(step(pj, batch, rng_lib.PRNGKey(k))[0][0]) for k in (1, 2))
    assert a != pytest.approx(b)
    no_dropout = float(_torch_loss_logits(wt, pt, batch, 0.0)[0].detach())
    assert float(_torch_loss_logits(wt, pt, batch, None)[0].detach()) != pytest.approx(no_dropout)
