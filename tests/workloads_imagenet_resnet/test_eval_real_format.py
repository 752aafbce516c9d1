"""Eval end to end on tiny real-format ImageNet, and NadamW training through the runner.

The workload's eval (TFDS read, center crop, padding, device placement,
jitted / no_grad summed metrics, normalisation) must equal accuracy and
cross entropy computed by hand in numpy from the same model's logits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.metrics import softmax_cross_entropy_np
from algoperf_ray.workloads.imagenet_resnet.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

TINY = {"image_size": 32, "num_filters": 4, "stage_sizes": (1, 1)}


def _logits(wl, params, state, host):
    logits, _ = wl.model_fn(params, wl._to_device(host, train=False), state,
                            spec.ForwardPassMode.EVAL, rng_lib.PRNGKey(0), False)
    logits = logits.detach().cpu().numpy() if hasattr(logits, "detach") else np.asarray(logits)
    return logits[:len(host["targets"])]


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_eval_equals_numpy_metrics(tiny_imagenet, framework):
    data_dir = str(tiny_imagenet[0])
    wl = load_workload("imagenet_resnet", framework, data_mode="real", **TINY)
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    got = wl._eval_model_on_split("validation", 8, 3, params, state, rng_lib.PRNGKey(1),
                                  data_dir)
    hosts = list(wl.host_batches("validation", 0, data_dir, 3, train=False))
    logits = np.concatenate([_logits(wl, params, state, h) for h in hosts])
    targets = np.concatenate([h["targets"] for h in hosts])
    valid = np.concatenate([h["weights"] for h in hosts]) > 0
    assert valid.sum() == 8
    want_acc = float(np.mean(logits[valid].argmax(-1) == targets[valid]))
    want_loss = float(np.mean(softmax_cross_entropy_np(logits[valid], targets[valid])))
    assert set(got) == {"accuracy", "loss"}
    assert got["accuracy"] == pytest.approx(want_acc, abs=1e-6)
    assert got["loss"] == pytest.approx(want_loss, rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_nadamw_trains_on_real_format_images(train_few_steps, tiny_imagenet, name, framework):
    result = train_few_steps(name, framework, tiny_imagenet[0], REDUCED_SIZE_KWARGS[name])
    assert result.status == "completed", result.error
    assert result.global_step == 2
    rows = result.eval_rows
    assert rows and all(math.isfinite(r["validation/loss"]) for r in rows)
    assert all(0 <= r["test/accuracy"] <= 1 for r in rows)
