"""JAX vs PyTorch ViT: the same weights give the same logits and loss, all variants.

Random Flax weights (the init has a zero head, which would hide layout
mistakes) are converted with ``workloads/imagenet_vit/convert.py``, whose
names must cover the PyTorch state dict exactly. Both frameworks then run
one batch through ``model_fn`` in EVAL and TRAIN mode (dropout rate 0, so
the two random streams cannot differ) and the soft-target (mixup) loss is
compared.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

from algoperf_ray import spec  # noqa: E402
from algoperf_ray.benchmark.registry import load_workload  # noqa: E402
from algoperf_ray.workload import rng as rng_lib  # noqa: E402
from algoperf_ray.workloads.imagenet_vit.convert import torch_state_from_flax  # noqa: E402
from algoperf_ray.workloads.imagenet_vit.metadata import REDUCED_SIZE_KWARGS, WORKLOADS  # noqa: E402

BATCH = 4


@functools.cache
def _both(name: str):
    kwargs = REDUCED_SIZE_KWARGS[name]
    jw = load_workload(name, "jax", data_mode="synthetic", **kwargs)
    tw = load_workload(name, "pytorch", data_mode="synthetic", **kwargs)
    params, _ = jw.init_model_fn(rng_lib.PRNGKey(0))
    gen = np.random.default_rng(1)
    params = jax.tree.map(
        lambda x: np.asarray(x) + 0.1 * gen.standard_normal(x.shape).astype(np.float32), params)
    model, _ = tw.init_model_fn(rng_lib.PRNGKey(0))
    state = torch_state_from_flax(params)
    assert set(state) == set(model.state_dict())
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    host = next(jw._synthetic_batches("train", 3, BATCH, train=True))  # mixup soft targets
    host["weights"] = np.array([1, 1, 0, 1], np.float32)
    return jw, tw, params, model, host


@pytest.mark.parametrize("mode", [spec.ForwardPassMode.EVAL, spec.ForwardPassMode.TRAIN])
@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_same_weights_same_logits_and_loss(name, mode):
    jw, tw, params, model, host = _both(name)
    jb, tb = jw._to_device(host, train=False), tw._to_device(host, train=False)
    key = jax.random.PRNGKey(0)
    j_logits, _ = jw.model_fn(params, jb, None, mode, key, False, dropout_rate=0.0)
    t_logits, _ = tw.model_fn(model, tb, None, mode, None, False, dropout_rate=0.0)
    j_logits, t_logits = np.asarray(j_logits), t_logits.detach().numpy()
    assert j_logits.shape == t_logits.shape == (BATCH, 1000)
    assert np.std(j_logits) > 1e-2
    np.testing.assert_allclose(j_logits, t_logits, rtol=1e-4, atol=1e-4)
    assert host["targets"].shape == (BATCH, 1000)  # soft labels
    j_loss = jw.loss_fn(jb["targets"], j_logits, jb["weights"], label_smoothing=0.1)
    t_loss = tw.loss_fn(tb["targets"], torch.from_numpy(t_logits), tb["weights"], 0.1)
    np.testing.assert_allclose(float(j_loss["summed"]), float(t_loss["summed"]), rtol=1e-5)
    assert float(j_loss["n_valid_examples"]) == float(t_loss["n_valid_examples"]) == 3


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_dropout_rate_is_used_in_train_mode_only(framework):
    jw, tw, params, model, host = _both("imagenet_vit")
    wl, p = (jw, params) if framework == "jax" else (tw, model)
    batch = wl._to_device(host, train=False)
    key = jax.random.PRNGKey(0) if framework == "jax" else None

    def logits(mode, rate):
        out, _ = wl.model_fn(p, batch, None, mode, key, False, dropout_rate=rate)
        return np.asarray(out.detach() if framework == "pytorch" else out)

    train = spec.ForwardPassMode.TRAIN
    assert np.array_equal(logits(spec.ForwardPassMode.EVAL, 0.5),
                          logits(spec.ForwardPassMode.EVAL, 0.0))
    assert not np.allclose(logits(train, 0.5), logits(train, 0.0))
