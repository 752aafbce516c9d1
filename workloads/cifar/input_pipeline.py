"""Framework-neutral part of cifar: the TFDS input pipeline (host numpy).

As in the reference: train is TFDS ``cifar10`` ``train[:45000]``, validation
the last 5,000 train images, test is TFDS ``test``. Training images are
augmented like the reference: padded by 2 pixels on each side (36x36), a
random 32x32 crop, and a random left-right flip, with stateless randomness
derived from the data seed and a per-example counter (reproducible). All
images are scaled to [0, 1] and normalised per channel with the train mean
and stddev from the metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from algoperf_ray.workloads import _tfds

CROP_SIZE = 32
PADDING_SIZE = 4  # total over both sides, as in the reference


def tfds_split(split: str, num_train: int, num_validation: int) -> str:
    table = {"train": f"train[:{num_train}]", "eval_train": f"train[:{num_train}]",
             "validation": f"train[{num_train}:{num_train + num_validation}]", "test": "test"}
    if split not in table:
        raise ValueError(f"unknown cifar split {split!r}; valid: {', '.join(table)}.")
    return table[split]


def make_preprocess(mean, std, train: bool, seed: int):
    """The tf.data map function: (index, example) -> {'inputs', 'targets'}."""
    import tensorflow as tf

    mean = tf.constant(mean, tf.float32, shape=[1, 1, 3])
    std = tf.constant(std, tf.float32, shape=[1, 1, 3])
    base = tf.constant([seed, 0], tf.int64)

    def preprocess(index, example):
        image = tf.image.convert_image_dtype(example["image"], tf.float32)
        if train:
            seeds = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(base, index), 2)
            size = CROP_SIZE + PADDING_SIZE
            image = tf.image.resize_with_crop_or_pad(image, size, size)
            image = tf.image.stateless_random_crop(image, (CROP_SIZE, CROP_SIZE, 3), seeds[0])
            image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        return {"inputs": (image - mean) / std, "targets": tf.cast(example["label"], tf.int32)}

    return preprocess


def cifar_batches(split: str, data_dir: str | None, global_batch_size: int, train: bool,
                  seed: int, mean: Any, std: Any, num_train: int,
                  num_validation: int) -> Iterator[dict]:
    """Global numpy batches of one split (augmented when ``train``)."""
    ds = _tfds.load_split("cifar10", tfds_split(split, num_train, num_validation), data_dir)
    return _tfds.tfds_batches(ds, make_preprocess(mean, std, train, seed), global_batch_size,
                              train, seed)
