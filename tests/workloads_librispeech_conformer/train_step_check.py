"""One forward + backward train step of a LibriSpeech workload at reduced size.

Shared by both speech families' ``test_train_step.py`` (loaded by path).
Checks real behaviour: a finite positive CTC loss, finite gradients reaching
every parameter tensor, batch-norm running statistics that move when
``update_batch_norm`` is True and stay put when it is False.
"""

from __future__ import annotations

import numpy as np

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib

TRAIN = spec.ForwardPassMode.TRAIN


def _leaves(tree) -> list[np.ndarray]:
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def check_jax(w, batch, check_frozen_bn: bool) -> None:
    import jax

    params, state = w.init_model_fn(rng_lib.PRNGKey(0))

    def loss(p, update):
        out, new_state = w.model_fn(p, batch, state, TRAIN, jax.random.PRNGKey(1), update,
                                    dropout_rate=0.1)
        d = w.loss_fn(batch["targets"], out)
        return d["summed"] / d["n_valid_examples"], new_state

    step = jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnums=1)
    (value, new_state), grads = step(params, True)
    assert np.isfinite(float(value)) and float(value) > 0
    g = _leaves(grads)
    assert len(g) == len(_leaves(params)) and all(np.isfinite(x).all() for x in g)
    assert sum(float(np.abs(x).sum() > 0) for x in g) >= 0.9 * len(g)
    if state:
        assert any(not np.allclose(a, b) for a, b in zip(_leaves(state), _leaves(new_state),
                                                         strict=True))
        if check_frozen_bn:
            (_, frozen), _ = step(params, False)
            assert all(np.array_equal(a, b) for a, b in zip(_leaves(state), _leaves(frozen),
                                                            strict=True))


def check_torch(w, batch) -> None:
    import torch

    model, _ = w.init_model_fn(rng_lib.PRNGKey(0))
    buffers = {k: v.clone() for k, v in model.named_buffers() if "running" in k}
    frozen_out, _ = w.model_fn(model, batch, None, TRAIN, None, update_batch_norm=False)
    assert all(torch.equal(v, dict(model.named_buffers())[k]) for k, v in buffers.items())
    out, _ = w.model_fn(model, batch, None, TRAIN, None, update_batch_norm=True,
                        dropout_rate=0.1)
    d = w.loss_fn(batch["targets"], out)
    value = d["summed"] / d["n_valid_examples"]
    assert torch.isfinite(value) and value.item() > 0 and frozen_out[0].shape == out[0].shape
    value.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum() > 0) for g in grads) >= 0.9 * len(grads)
    if buffers:
        assert any(not torch.equal(v, dict(model.named_buffers())[k])
                   for k, v in buffers.items())


def check_train_step(name: str, framework: str, reduced: dict, check_frozen_bn: bool) -> None:
    kwargs = {**reduced, "max_audio_length": 16000, "max_target_length": 12}
    w = registry.load_workload(name, framework, data_mode="synthetic", **kwargs)
    batch = next(iter(w._build_input_queue(rng_lib.PRNGKey(3), "train", None, 4)))
    assert batch["inputs"].shape == (4, 16000) and batch["targets"].shape == (4, 12)
    if framework == "jax":
        check_jax(w, batch, check_frozen_bn)
    else:
        check_torch(w, batch)
