"""One forward + backward train step per ViT workload and framework (tiny size).

A small step along the negative gradient must lower the loss on the same
mixup batch; the JAX step is jitted with a traced dropout rate, as public
submissions call ``model_fn``.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_vit.metadata import WORKLOADS

TINY = {"image_size": 16, "patch_size": 8, "width": 16, "depth": 1, "num_heads": 2,
        "mlp_dim": 32}
TRAIN = spec.ForwardPassMode.TRAIN
STEP = 1e-2


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_jax_train_step_lowers_loss(name):
    import jax

    wl = load_workload(name, "jax", data_mode="synthetic", **TINY)
    params, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = next(wl._build_input_queue(rng_lib.PRNGKey(1), "train", None, 8))
    assert batch["targets"].shape == (8, 1000)  # mixup soft targets

    @jax.jit
    def loss_and_grad(p, rate, key):
        def loss(q):
            logits, _ = wl.model_fn(q, batch, None, TRAIN, key, False, dropout_rate=rate)
            return wl.loss_fn(batch["targets"], logits)["summed"]
        return jax.value_and_grad(loss)(p)

    key = jax.random.PRNGKey(2)
    l0, grads = loss_and_grad(params, 0.0, key)
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(grads))))
    assert np.isfinite(float(l0)) and norm > 0
    stepped = jax.tree.map(lambda p, g: p - STEP * g / norm, params, grads)
    assert float(loss_and_grad(stepped, 0.0, key)[0]) < float(l0)
    l_drop, _ = loss_and_grad(params, 0.3, key)  # same compiled step, another rate
    assert np.isfinite(float(l_drop))


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_pytorch_train_step_lowers_loss(name):
    import torch

    wl = load_workload(name, "pytorch", data_mode="synthetic", **TINY)
    model, _ = wl.init_model_fn(rng_lib.PRNGKey(0), dropout_rate=0.0)
    batch = next(wl._build_input_queue(rng_lib.PRNGKey(1), "train", None, 8))

    def loss():
        logits, _ = wl.model_fn(model, batch, None, TRAIN, None, False)
        return wl.loss_fn(batch["targets"], logits)["summed"]

    l0 = loss()
    l0.backward()
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()
                          if p.grad is not None))
    assert torch.isfinite(l0) and norm > 0
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= STEP * p.grad / norm
        assert loss() < l0
