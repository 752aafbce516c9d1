"""The ImageNet input pipeline on tiny real-format data (TFDS imagenet2012, imagenet_v2)."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workloads.imagenet_resnet import input_pipeline as ip
from algoperf_ray.workloads.imagenet_resnet.metadata import TRAIN_MEAN, TRAIN_STDDEV

SIZE = 32


@pytest.fixture(scope="module")
def wl():
    return load_workload("imagenet_resnet", "jax", data_mode="real", image_size=SIZE)


def _all(it):
    batches = list(it)
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, len(batches)


def test_eval_pass_is_ordered_padded_and_repeatable(wl, tiny_imagenet):
    data_dir = tiny_imagenet[0]
    first, n = _all(wl.host_batches("validation", 0, data_dir, 3, train=False))
    assert n == 3 and first["inputs"].shape == (9, SIZE, SIZE, 3)
    np.testing.assert_array_equal(first["weights"], [1] * 8 + [0])
    assert first["inputs"].dtype == np.float32 and first["targets"].dtype == np.int32
    second, _ = _all(wl.host_batches("validation", 5, data_dir, 3, train=False))
    np.testing.assert_array_equal(first["inputs"], second["inputs"])  # no randomness
    # Normalised with the ImageNet mean/stddev: roughly centred, unit scale.
    assert abs(first["inputs"][:8].mean()) < 2 and 0.1 < first["inputs"][:8].std() < 3


def test_eval_center_crop_matches_numpy(tiny_imagenet):
    """The eval view equals a numpy center crop (shorter side * 224/256) + bicubic resize."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    cfg = ip.ImagenetConfig(mean=TRAIN_MEAN, stddev=TRAIN_STDDEV, image_size=SIZE,
                            resize_size=37)
    ds = ip.load_encoded(ip.IMAGENET, "validation", str(tiny_imagenet[0]), None)
    example = next(iter(tfds.as_numpy(ds.take(1))))
    full = tf.io.decode_jpeg(example["image"], channels=3).numpy()
    h, w, _ = full.shape
    side = int(SIZE / 37 * min(h, w))
    top, left = (h - side + 1) // 2, (w - side + 1) // 2
    crop = full[top:top + side, left:left + side]
    want = tf.image.resize([crop], [SIZE, SIZE], method="bicubic")[0].numpy()
    got = ip.decode_center_crop(tf.constant(example["image"]), cfg).numpy()
    # Decoding only the window (decode_and_crop_jpeg) changes JPEG chroma
    # upsampling at the window's edge; the resize spreads that 2 pixels inwards.
    np.testing.assert_allclose(got[2:-2, 2:-2], want[2:-2, 2:-2], atol=1e-3)
    assert np.abs(got - want).mean() < 0.5


def test_train_batches_are_random_but_reproducible(wl, tiny_imagenet):
    data_dir = tiny_imagenet[0]

    def first_two(seed):
        it = wl.host_batches("train", seed, data_dir, 4, train=True)
        return [next(it) for _ in range(2)]

    a, b, c = first_two(1), first_two(1), first_two(2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["inputs"], y["inputs"])
    assert not np.array_equal(a[0]["inputs"], c[0]["inputs"])
    assert "weights" not in a[0] and a[0]["targets"].shape == (4,)
    # 12 train images in 3 classes; the stream repeats past one epoch.
    it = wl.host_batches("train", 1, data_dir, 5, train=True)
    labels = np.concatenate([next(it)["targets"] for _ in range(6)])
    assert set(labels) == {0, 1, 2}


def test_test_split_is_imagenet_v2_and_eval_train_is_capped(tiny_imagenet):
    data_dir = tiny_imagenet[0]
    wl = load_workload("imagenet_resnet", "pytorch", data_mode="real", image_size=SIZE,
                       max_eval_examples=5)
    test, _ = _all(wl.host_batches("test", 0, data_dir, 4, train=False))
    assert int(test["weights"].sum()) == 6 and set(test["targets"][:6]) <= {0, 7, 14}
    assert wl.num_eval_train_examples == 5
    eval_train, _ = _all(wl.host_batches("eval_train", 0, data_dir, 4, train=False))
    assert int(eval_train["weights"].sum()) == 5


def test_missing_dataset_error_names_the_setup_script(wl, tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/setup_imagenet.py"):
        next(wl.host_batches("validation", 0, str(tmp_path), 2, train=False))
