"""The digits dataset: scikit-learn's 1,797 bundled 8x8 images, split once.

Splits come from one fixed permutation (``numpy.random.default_rng(0)``) of
all 1,797 examples: the first 1,297 are train, the next 250 validation, the
last 250 test. ``eval_train`` is the first ``num_eval_train_examples`` train
examples. Pixels (0..16) are scaled to [0, 1] and standardised with the
train split's scalar mean and stddev (recorded in the metadata), and each
image is flattened to 64 features.
"""

from __future__ import annotations

import functools

import numpy as np

SPLIT_SEED = 0
NUM_TRAIN, NUM_VALIDATION, NUM_TEST = 1297, 250, 250


@functools.cache
def _all_splits(mean: float, stddev: float) -> dict[str, dict[str, np.ndarray]]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = ((data.data.astype(np.float32) / 16.0 - mean) / stddev).astype(np.float32)
    y = data.target.astype(np.int32)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    bounds = {"train": (0, NUM_TRAIN), "validation": (NUM_TRAIN, NUM_TRAIN + NUM_VALIDATION),
              "test": (NUM_TRAIN + NUM_VALIDATION, NUM_TRAIN + NUM_VALIDATION + NUM_TEST)}
    out = {}
    for split, (lo, hi) in bounds.items():
        idx = perm[lo:hi]
        out[split] = {"inputs": x[idx], "targets": y[idx]}
    return out


def split_arrays(split: str, mean: float, stddev: float,
                 num_eval_train: int) -> dict[str, np.ndarray]:
    """Arrays {'inputs': float32[n, 64], 'targets': int32[n]} of one split."""
    splits = _all_splits(float(mean), float(stddev))
    if split == "eval_train":
        return {k: v[:num_eval_train] for k, v in splits["train"].items()}
    if split not in splits:
        raise ValueError(f"unknown digits split {split!r}; valid: train, eval_train, "
                         "validation, test.")
    return splits[split]
