"""JAX vs PyTorch ResNet: the same weights give the same logits, loss and BN statistics.

Random Flax weights (not the init, so zero-initialised BN scales cannot
hide a layout mistake) are copied into the PyTorch model; both run the same
batch through ``model_fn`` in EVAL mode (running statistics) and TRAIN mode
(batch statistics, running statistics updated). Flax updates the running
variance with the biased batch variance, PyTorch with the unbiased one (a
difference between the two reference frameworks, kept here), so the
PyTorch running variance is compared after undoing that factor.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

from algoperf_ray import spec  # noqa: E402
from algoperf_ray.benchmark.registry import load_workload  # noqa: E402
from algoperf_ray.workload import rng as rng_lib  # noqa: E402
from algoperf_ray.workloads._convert import load_flax_into_torch  # noqa: E402
from algoperf_ray.workloads.imagenet_resnet.convert import jax_path_fn  # noqa: E402
from algoperf_ray.workloads.imagenet_resnet.metadata import REDUCED_SIZE_KWARGS  # noqa: E402

# One stage of two blocks at 32x32 keeps this fast; all activations are checked.
SIZE = {**REDUCED_SIZE_KWARGS["imagenet_resnet"], "stage_sizes": (1, 2)}
BATCH = 6


@functools.cache
def _both(name: str):
    jw = load_workload(name, "jax", data_mode="synthetic", **SIZE)
    tw = load_workload(name, "pytorch", data_mode="synthetic", **SIZE)
    params, state = jw.init_model_fn(rng_lib.PRNGKey(0))
    gen = np.random.default_rng(1)

    def perturb(path, leaf):
        x = np.asarray(leaf) + 0.2 * gen.standard_normal(leaf.shape).astype(np.float32)
        return np.abs(x) + 0.5 if path[-1].key == "var" else x

    params = jax.tree_util.tree_map_with_path(perturb, params)
    state = jax.tree_util.tree_map_with_path(perturb, state)
    model, _ = tw.init_model_fn(rng_lib.PRNGKey(0))
    load_flax_into_torch(model, params, state, jax_path_fn(SIZE["stage_sizes"]))
    host = next(jw._synthetic_batches("train", 3, BATCH, train=True))
    host["weights"] = (gen.random(BATCH) > 0.3).astype(np.float32)
    return jw, tw, params, state, model, host


@pytest.mark.parametrize("mode", [spec.ForwardPassMode.EVAL, spec.ForwardPassMode.TRAIN])
@pytest.mark.parametrize("name", ["imagenet_resnet", "imagenet_resnet_silu",
                                  "imagenet_resnet_gelu"])
def test_same_weights_same_logits_loss_and_stats(name, mode):
    jw, tw, params, state, model, host = _both(name)
    train = mode == spec.ForwardPassMode.TRAIN
    model = copy.deepcopy(model)  # TRAIN mode updates BN buffers in place
    jb, tb = jw._to_device(host, train=False), tw._to_device(host, train=False)
    j_logits, j_state = jw.model_fn(params, jb, state, mode, None, update_batch_norm=train)
    t_logits, _ = tw.model_fn(model, tb, None, mode, None, update_batch_norm=train)
    j_logits, t_logits = np.asarray(j_logits), t_logits.detach().numpy()
    assert j_logits.shape == t_logits.shape == (BATCH, 1000)
    assert np.std(j_logits) > 1e-2
    np.testing.assert_allclose(j_logits, t_logits, rtol=1e-3, atol=1e-3)
    j_loss = jw.loss_fn(jb["targets"], j_logits, jb["weights"], label_smoothing=0.1)
    t_loss = tw.loss_fn(tb["targets"], torch.from_numpy(t_logits), tb["weights"], 0.1)
    np.testing.assert_allclose(float(j_loss["summed"]), float(t_loss["summed"]), rtol=1e-4)
    assert float(j_loss["n_valid_examples"]) == float(t_loss["n_valid_examples"])
    if train:
        _assert_same_running_stats(j_state["batch_stats"], model, state["batch_stats"])


def _assert_same_running_stats(j_stats, model, before) -> None:
    """New running mean equal; variance equal after PyTorch's n/(n-1) correction."""
    bn = model.layer1[0].bn1  # sees an 8x8 map (32 -> stem conv 16 -> max-pool 8) per image
    n = BATCH * 8 * 8
    j_new = j_stats["BottleneckResNetBlock_0"]["BatchNorm_0"]
    old_var = np.asarray(before["BottleneckResNetBlock_0"]["BatchNorm_0"]["var"])
    np.testing.assert_allclose(bn.running_mean.numpy(), np.asarray(j_new["mean"]),
                               rtol=1e-3, atol=1e-4)
    t_batch_var = (bn.running_var.numpy() - 0.9 * old_var) / 0.1
    j_batch_var = (np.asarray(j_new["var"]) - 0.9 * old_var) / 0.1
    np.testing.assert_allclose(t_batch_var * (n - 1) / n, j_batch_var, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_frozen_batch_norm_keeps_running_stats(framework):
    """TRAIN mode without ``update_batch_norm`` uses batch stats but moves nothing."""
    jw, tw, params, state, model, host = _both("imagenet_resnet")
    if framework == "jax":
        logits, new_state = jw.model_fn(params, jw._to_device(host, False), state,
                                        spec.ForwardPassMode.TRAIN, None, update_batch_norm=False,
                                        use_running_average_bn=False)
        assert new_state is state
        eval_logits, _ = jw.model_fn(params, jw._to_device(host, False), state,
                                     spec.ForwardPassMode.EVAL, None, update_batch_norm=False)
        assert not np.allclose(np.asarray(logits), np.asarray(eval_logits))
        return
    model = copy.deepcopy(model)
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    tw.model_fn(model, tw._to_device(host, False), None, spec.ForwardPassMode.TRAIN, None,
                update_batch_norm=False)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    tw.model_fn(model, tw._to_device(host, False), None, spec.ForwardPassMode.TRAIN, None,
                update_batch_norm=True)
    assert not torch.equal(before["bn1.running_mean"], model.state_dict()["bn1.running_mean"])
