"""Framework-neutral part of mnist: the TFDS input pipeline (host numpy).

As in the reference: train is TFDS ``train[:num_train]``, validation the
rest of TFDS train, test is TFDS ``test``; ``eval_train`` is an ordered pass
over the first examples of the train slice. Pixels are normalised as the
reference does, ``(pixel - 0.1307) / 0.3081`` on the raw 0..255 values
(the reference does not divide by 255 first, and targets were set with it).
"""

from __future__ import annotations

from collections.abc import Iterator

from algoperf_ray.workloads import _tfds


def tfds_split(split: str, num_train: int, num_validation: int) -> str:
    """The TFDS split string of one AlgoPerf split."""
    table = {"train": f"train[:{num_train}]", "eval_train": f"train[:{num_train}]",
             "validation": f"train[{num_train}:{num_train + num_validation}]", "test": "test"}
    if split not in table:
        raise ValueError(f"unknown mnist split {split!r}; valid: {', '.join(table)}.")
    return table[split]


def mnist_batches(split: str, data_dir: str | None, global_batch_size: int, train: bool,
                  seed: int, mean: float, std: float, num_train: int,
                  num_validation: int) -> Iterator[dict]:
    """Global numpy batches of one split, normalised as the reference does."""
    import tensorflow as tf

    mean, std = float(mean), float(std)

    def preprocess(index, example):
        del index
        image = (tf.cast(example["image"], tf.float32) - mean) / std
        return {"inputs": image, "targets": tf.cast(example["label"], tf.int32)}

    ds = _tfds.load_split("mnist", tfds_split(split, num_train, num_validation), data_dir)
    return _tfds.tfds_batches(ds, preprocess, global_batch_size, train, seed)
