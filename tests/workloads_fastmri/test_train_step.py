"""One forward + backward train step per fastMRI workload and framework (reduced size).

A small step along the negative gradient must lower the L1 loss on the same
batch, which fails if gradients are missing, wrong or detached. The batch
comes from the workload's synthetic pipeline (real 320x320 shapes, checked)
and is cropped to 64x64 for the step: the U-Net is size-agnostic, and XLA's
CPU compile of the 320x320 gradient takes minutes on a loaded CI machine.
Full-size batches train in ``test_real_format`` and ``test_run_submissions``.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

TRAIN = spec.ForwardPassMode.TRAIN
STEP = 1e-2  # length of the normalised gradient step
BATCH = 2
CROP = 64


def _setup(name: str, framework: str):
    wl = load_workload(name, framework, data_mode="synthetic", **REDUCED_SIZE_KWARGS[name])
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = next(wl._build_input_queue(rng_lib.PRNGKey(1), "train", None, BATCH))
    assert tuple(batch["inputs"].shape) == (BATCH, 320, 320)
    crop = {k: v[:, :CROP, :CROP] if v.ndim == 3 else v for k, v in batch.items()}
    return wl, params, state, crop


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_jax_train_step_lowers_loss(name: str) -> None:
    import jax

    wl, params, state, batch = _setup(name, "jax")

    def loss(p):
        out, _ = wl.model_fn(p, batch, state, TRAIN, rng_lib.PRNGKey(2), False,
                             dropout_rate=0.0)
        d = wl.loss_fn(batch["targets"], out)
        return d["summed"] / d["n_valid_examples"]

    l0, grads = jax.jit(jax.value_and_grad(loss))(params)
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in jax.tree.leaves(grads))))
    assert np.isfinite(float(l0)) and norm > 0
    assert all(np.abs(np.asarray(g)).max() > 0 for g in jax.tree.leaves(grads))
    stepped = jax.tree.map(lambda p, g: p - STEP * g / norm, params, grads)
    assert float(jax.jit(loss)(stepped)) < float(l0)


@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_pytorch_train_step_lowers_loss(name: str) -> None:
    import torch

    wl, model, state, batch = _setup(name, "pytorch")

    def loss() -> torch.Tensor:
        out, _ = wl.model_fn(model, batch, state, TRAIN, None, False, dropout_rate=0.0)
        d = wl.loss_fn(batch["targets"], out)
        return d["summed"] / d["n_valid_examples"]

    l0 = loss()
    l0.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.abs().max() > 0 for g in grads)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p in model.parameters():
            p -= STEP * p.grad / norm
        assert float(loss()) < float(l0)
