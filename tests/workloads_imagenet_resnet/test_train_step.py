"""One forward + backward train step per ResNet workload and framework (tiny size).

A small step along the negative gradient must lower the loss on the same
batch (TRAIN mode, batch statistics), which fails if gradients are missing,
wrong or detached; the step also updates the running BN statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_resnet.metadata import WORKLOADS

TINY = {"image_size": 16, "num_filters": 4, "stage_sizes": (1, 1)}
TRAIN = spec.ForwardPassMode.TRAIN
STEP = 1e-2  # length of the normalised gradient step


def _batch(wl):
    host = next(wl._build_input_queue(rng_lib.PRNGKey(1), "train", None, 8))
    return host


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_jax_train_step_lowers_loss(name):
    import jax

    wl = load_workload(name, "jax", data_mode="synthetic", **TINY)
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = _batch(wl)
    assert batch["inputs"].shape == (8, 16, 16, 3)

    def loss(p):
        logits, new_state = wl.model_fn(p, batch, state, TRAIN, None, update_batch_norm=True)
        return wl.loss_fn(batch["targets"], logits, label_smoothing=0.1)["summed"], new_state

    (l0, new_state), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(grads))))
    assert np.isfinite(float(l0)) and norm > 0
    stepped = jax.tree.map(lambda p, g: p - STEP * g / norm, params, grads)
    l1, _ = jax.jit(loss)(stepped)
    assert float(l1) < float(l0)
    before = state["batch_stats"]["BatchNorm_init"]["mean"]
    after = new_state["batch_stats"]["BatchNorm_init"]["mean"]
    assert not np.allclose(np.asarray(before), np.asarray(after))


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_pytorch_train_step_lowers_loss(name):
    import torch

    wl = load_workload(name, "pytorch", data_mode="synthetic", **TINY)
    model, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = _batch(wl)
    assert tuple(batch["inputs"].shape) == (8, 3, 16, 16)  # NCHW on device

    def loss():
        logits, _ = wl.model_fn(model, batch, None, TRAIN, None, update_batch_norm=False)
        return wl.loss_fn(batch["targets"], logits, label_smoothing=0.1)["summed"]

    running = model.bn1.running_mean.clone()
    l0 = loss()
    l0.backward()
    assert torch.equal(running, model.bn1.running_mean)  # update_batch_norm=False
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    assert torch.isfinite(l0) and norm > 0
    with torch.no_grad():
        for p in model.parameters():
            p -= STEP * p.grad / norm
        assert loss() < l0
    wl.model_fn(model, batch, None, TRAIN, None, update_batch_norm=True)
    assert not torch.equal(running, model.bn1.running_mean)
