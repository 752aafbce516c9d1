"""Criteo 1TB input pipeline: the reference's sharded TSV files -> global numpy batches.

On-disk layout (what ``scripts/setup_criteo1tb.py`` produces, as the
reference's setup does): each raw day ``day_<d>`` (d = 0..23) split into
5,000,000-line shards named ``day_<d>_<NN>`` (``NN`` = 00, 01, ...). Every
line is tab-separated: the click label, 13 integer (dense) features and 26
categorical features (8-digit hex strings); empty fields are missing values.

Splits, as in the reference: ``train``/``eval_train`` read days 0..22;
day 23 is halved by shard: shards 00..18 are ``test`` and 19..35
``validation``.

Per line, as in the reference (and MLPerf DLRM):

* dense features: ``-1``/missing -> 0, negatives clamped to 0, then
  ``log(x + 1)`` (:func:`log_transform`);
* categorical features: the column index is appended to the string (so equal
  strings in different columns differ) and it is hashed with TensorFlow's
  ``to_hash_bucket_fast`` (FarmHash fingerprint) into that column's raw vocab
  size (:data:`HASH_BUCKETS`); the model later takes ids modulo its table size;
* all 39 features are emitted as one float32 ``inputs`` row (ids included,
  exactly as the reference casts them) plus a float32 ``targets`` label.

TensorFlow reads and hashes (the hash must match the reference bit for bit);
everything after that is numpy. TensorFlow is imported only when batches are
built and is kept off the GPUs.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

NUM_DENSE = 13
NUM_SPARSE = 26
NUM_DAY_23_SHARDS = 36
NUM_TEST_SHARDS = NUM_DAY_23_SHARDS // 2 + 1  # shards 00..18 of day 23
TRAIN_DAYS = tuple(range(23))
EVAL_DAY = 23
SPLITS = ("train", "eval_train", "validation", "test")

# Hash-bucket count per categorical column: the raw vocabulary sizes the
# reference uses (from the Cloud TPU DLRM tutorial).
HASH_BUCKETS = (
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10,
    2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36,
)

NumpyBatch = dict[str, np.ndarray]
_SHARD_RE = re.compile(r"^day_(\d+)_(\d+)$")


def shard_index(path: str) -> tuple[int, int]:
    """(day, shard) of a ``day_<d>_<NN>`` file name; ValueError otherwise."""
    m = _SHARD_RE.match(os.path.basename(path))
    if not m:
        raise ValueError(f"{path!r} is not a Criteo shard name (expected day_<d>_<NN>).")
    return int(m.group(1)), int(m.group(2))


def split_files(data_dir: str | None, split: str) -> list[str]:
    """The shard files of ``split`` under ``data_dir``, in (day, shard) order.

    Raises ``FileNotFoundError`` naming the directory and the expected names
    when the split has no files, so a wrong ``--data-dir`` fails at once.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown criteo1tb split {split!r}; choose one of {SPLITS}.")
    if not data_dir or not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"criteo1tb data_dir {data_dir!r} is not a directory. Prepare the data with "
            "`python scripts/setup_criteo1tb.py --data-dir DIR` and pass --data-dir DIR.")
    files = [p for p in glob.glob(os.path.join(data_dir, "day_*_*")) if _SHARD_RE.match(
        os.path.basename(p))]
    keep = {
        "train": lambda d, s: d in TRAIN_DAYS,
        "eval_train": lambda d, s: d in TRAIN_DAYS,
        "test": lambda d, s: d == EVAL_DAY and s < NUM_TEST_SHARDS,
        "validation": lambda d, s: d == EVAL_DAY and NUM_TEST_SHARDS <= s < NUM_DAY_23_SHARDS,
    }[split]
    chosen = sorted((p for p in files if keep(*shard_index(p))), key=shard_index)
    if not chosen:
        where = {"train": "day_0_00 .. day_22_NN", "eval_train": "day_0_00 .. day_22_NN",
                 "test": "day_23_00 .. day_23_18", "validation": "day_23_19 .. day_23_35"}
        raise FileNotFoundError(
            f"no criteo1tb {split!r} files ({where[split]}) in {data_dir!r}. Run "
            "`python scripts/setup_criteo1tb.py --data-dir DIR` to download and shard the data.")
    return chosen


def log_transform(dense: np.ndarray) -> np.ndarray:
    """The reference's dense-feature transform: ``log(max(x, 0) + 1)`` in float32."""
    dense = np.asarray(dense, np.float32)
    return np.log(np.maximum(dense, np.float32(0)) + np.float32(1)).astype(np.float32)


def assemble(labels: np.ndarray, dense: np.ndarray, cat_ids: np.ndarray) -> NumpyBatch:
    """One model batch from parsed columns: float32 ``inputs`` [B, 39] and ``targets`` [B]."""
    inputs = np.concatenate(
        [log_transform(dense), np.asarray(cat_ids).astype(np.float32)], axis=1)
    return {"inputs": inputs, "targets": np.asarray(labels, np.float32).reshape(-1)}


def pad_batch(batch: NumpyBatch, size: int) -> NumpyBatch:
    """Zero-pad to ``size`` rows; ``weights`` is 1 on real rows and 0 on padding."""
    n = len(batch["targets"])
    out = {k: np.concatenate([v, np.zeros((size - n, *v.shape[1:]), v.dtype)])
           for k, v in batch.items()}
    out["weights"] = (np.arange(size) < n).astype(np.float32)
    return out


def _tensorflow() -> Any:
    import tensorflow as tf

    try:  # the accelerators belong to JAX/PyTorch; TF only reads files here
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # already initialised by an earlier call
        pass
    return tf


def _parse_fn(tf: Any) -> Any:
    defaults = [[0.0]] + [[0.0]] * NUM_DENSE + [["00000000"]] * NUM_SPARSE

    def parse(lines: Any) -> tuple[Any, Any, Any]:
        fields = tf.io.decode_csv(lines, defaults, field_delim="\t", na_value="-1")
        dense = tf.stack(fields[1:1 + NUM_DENSE], axis=1)
        ids = [tf.strings.to_hash_bucket_fast(fields[1 + NUM_DENSE + i] + str(i), buckets)
               for i, buckets in enumerate(HASH_BUCKETS)]
        return fields[0], dense, tf.stack(ids, axis=1)

    return parse


def criteo_batches(data_dir: str | None, split: str, global_batch_size: int, seed: int,
                   train: bool) -> Iterator[NumpyBatch]:
    """Global numpy batches of ``split``.

    ``train=True``: shard order shuffled by ``seed``, full batches, repeated
    forever. ``train=False``: one pass (``eval_train`` shuffles its shards
    like the reference, the others keep file order); the last batch is padded
    to ``global_batch_size`` with ``weights == 0``.
    """
    files = split_files(data_dir, split)
    tf = _tensorflow()
    ds = tf.data.Dataset.from_tensor_slices(files)
    if split in ("train", "eval_train"):
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.flat_map(tf.data.TextLineDataset)
    ds = ds.batch(global_batch_size, drop_remainder=train)
    ds = ds.map(_parse_fn(tf), num_parallel_calls=tf.data.AUTOTUNE)
    if train:
        ds = ds.repeat()
    for labels, dense, ids in ds.prefetch(tf.data.AUTOTUNE).as_numpy_iterator():
        batch = assemble(labels, dense, ids)
        yield batch if train else pad_batch(batch, global_batch_size)
