"""ViT training data: RandAugment ops and mixup, on tiny real-format ImageNet."""

from __future__ import annotations

import math

import numpy as np
import pytest

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workloads.imagenet_vit.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

tf = pytest.importorskip("tensorflow")
from algoperf_ray.workloads.imagenet_vit import randaugment  # noqa: E402


def _image():
    gen = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :48]
    image = np.stack([yy * 5, xx * 4, (yy + xx) * 2], -1) + gen.integers(0, 40, (40, 48, 3))
    return tf.constant(np.clip(image, 0, 255).astype(np.uint8))


def test_every_op_keeps_shape_and_dtype_and_changes_pixels():
    image = _image()
    ops = randaugment._ops(image, 10.0, tf.constant([1, 2], tf.int64))
    assert len(ops) == randaugment.NUM_OPS == 16
    unchanged = []
    for i, op in enumerate(ops):
        out = op()
        assert out.dtype == tf.uint8 and tuple(out.shape) == (40, 48, 3), i
        if np.array_equal(out.numpy(), image.numpy()):
            unchanged.append(i)
    # Only Solarize is a no-op at magnitude 10 (threshold 256), as in the reference.
    assert unchanged == [5]


def test_geometric_ops_fill_with_grey_and_invert_is_exact():
    image = _image()
    ops = randaugment._ops(image, 10.0, tf.constant([1, 2], tf.int64))
    translated = ops[12]().numpy()  # TranslateX by 100 px: the whole 48-px row leaves
    assert np.all(translated == randaugment.FILL)
    np.testing.assert_array_equal(ops[2]().numpy(), 255 - image.numpy())


def test_randaugment_is_deterministic_per_seed():
    image = _image()
    f = tf.function(lambda x, s: randaugment.randaugment(x, 2, 10, s))
    seeds = [tf.constant([k, 0], tf.int64) for k in range(6)]
    outs = [f(image, s).numpy() for s in seeds]
    np.testing.assert_array_equal(outs[0], f(image, seeds[0]).numpy())
    assert len({o.tobytes() for o in outs}) > 2


def test_train_batches_are_mixed_up_and_eval_batches_are_not(tiny_imagenet):
    data_dir = tiny_imagenet[0]
    wl = load_workload("imagenet_vit", "pytorch", data_mode="real", image_size=32,
                       patch_size=8)
    train = next(wl.host_batches("train", 0, data_dir, 6, train=True))
    targets = train["targets"]
    assert targets.shape == (6, 1000) and targets.dtype == np.float32
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)
    # Each row mixes its own label with its neighbour's, with one weight per batch.
    weight = targets.max(1)
    assert np.all(weight >= 0.5 - 1e-6) and np.all((targets > 0).sum(1) <= 2)
    evals = next(wl.host_batches("validation", 0, data_dir, 6, train=False))
    assert evals["targets"].shape == (6,) and evals["targets"].dtype == np.int32


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_nadamw_trains_on_real_format_images(train_few_steps, tiny_imagenet, name, framework):
    result = train_few_steps(name, framework, tiny_imagenet[0], REDUCED_SIZE_KWARGS[name])
    assert result.status == "completed", result.error
    assert result.global_step == 2
    rows = result.eval_rows
    assert rows and all(math.isfinite(r["validation/loss"]) for r in rows)
