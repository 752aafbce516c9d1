"""Host-side data helpers shared by the dev workloads (framework-neutral).

Everything here yields GLOBAL numpy batches, the currency of
:class:`algoperf_ray.workload.base.BaseWorkload`: training batches are
shuffled and repeat forever (the last partial batch dropped); eval batches
make one ordered pass and the last one is padded to the full batch size with
``weights == 0`` so that jit shapes stay fixed and padding never counts.

TensorFlow is imported inside the functions that need it, so importing a
workload's metadata or its in-memory (sklearn) pipeline never pulls it in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

NumpyBatch = dict[str, np.ndarray]


def pad_batch(batch: NumpyBatch, size: int) -> NumpyBatch:
    """Zero-pad every array to ``size`` rows and add/extend ``weights`` (0 on padding)."""
    n = len(next(iter(batch.values())))
    if n > size:
        raise ValueError(f"batch of {n} rows does not fit a padded size of {size}.")
    weights = batch.get("weights", np.ones((n,), np.float32)).astype(np.float32)
    out = {k: np.concatenate([v, np.zeros((size - n, *v.shape[1:]), v.dtype)])
           for k, v in batch.items() if k != "weights"}
    out["weights"] = np.concatenate([weights, np.zeros((size - n,), np.float32)])
    return out


def array_train_batches(arrays: NumpyBatch, batch_size: int, seed: int) -> Iterator[NumpyBatch]:
    """Shuffle in-memory arrays every epoch; yield full batches forever."""
    n = len(next(iter(arrays.values())))
    if batch_size > n:
        raise ValueError(f"global batch size {batch_size} exceeds the {n} training examples.")
    gen = np.random.default_rng(seed)
    while True:
        order = gen.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            yield {k: v[idx] for k, v in arrays.items()}


def array_eval_batches(arrays: NumpyBatch, batch_size: int) -> Iterator[NumpyBatch]:
    """One ordered pass over in-memory arrays; the last batch padded (weights 0)."""
    n = len(next(iter(arrays.values())))
    for start in range(0, n, batch_size):
        yield pad_batch({k: v[start:start + batch_size] for k, v in arrays.items()}, batch_size)


def load_split(name: str, split: str, data_dir: str | None) -> Any:
    """A ``tf.data.Dataset`` of TFDS ``name`` (already prepared under ``data_dir``).

    Raises a clear ``FileNotFoundError`` when the dataset is not prepared,
    because downloading inside a timed benchmark run is never wanted.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    try:
        return builder.as_dataset(split=split, shuffle_files=False)
    except AssertionError as e:  # tfds raises AssertionError for missing data
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared under data_dir={data_dir!r}: {e}. "
            f"Prepare it once with `tfds build {name} --data_dir <DIR>` (or "
            f"tfds.builder({name!r}, data_dir=...).download_and_prepare()) and pass "
            "--data-dir <DIR>.") from e


def tfds_batches(ds: Any, preprocess: Callable[[Any, Any], dict], batch_size: int,
                 train: bool, seed: int) -> Iterator[NumpyBatch]:
    """Global numpy batches from a TFDS split.

    ``preprocess(index, example) -> {"inputs", "targets"}`` runs in tf.data;
    ``index`` is a per-example counter (unique across epochs when training)
    so augmentation can use stateless, reproducible randomness.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if train:
        ds = ds.cache().repeat().shuffle(16 * batch_size, seed=seed)
    ds = ds.enumerate().map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=train).prefetch(4)
    for batch in tfds.as_numpy(ds):
        batch = {k: np.asarray(v) for k, v in batch.items()}
        yield batch if train else pad_batch(batch, batch_size)


TFRECORD_OVERHEAD = 16  # per record: uint64 length + two uint32 CRCs


def tfds_split_problems(root: Any, prefix: str, split: dict, expected: int,
                        name: str) -> list[str]:
    """Problems with one prepared TFDS split, checked without reading records.

    ``root`` is the dataset version folder (a ``pathlib.Path``), ``prefix`` the
    shard file prefix (the builder name), ``split`` the split's entry of
    ``dataset_info.json``. Checks the example count against ``expected``, the
    shard file count, and the exact byte size (records + TFRecord framing), so
    a truncated or partial shard is caught. Used by the dataset setup scripts.
    """
    lengths = [int(n) for n in split.get("shardLengths", [])]
    problems = []
    if sum(lengths) != expected:
        problems.append(f"split {name!r} has {sum(lengths)} examples, expected {expected}")
    pattern = f"{prefix}-{name}.tfrecord-"
    files = sorted(root.glob(pattern + "*"))
    if len(files) != len(lengths):
        problems.append(f"split {name!r}: found {len(files)} shard files {pattern}*, "
                        f"dataset_info.json lists {len(lengths)}")
        return problems
    size = sum(f.stat().st_size for f in files)
    want = int(split.get("numBytes", 0)) + TFRECORD_OVERHEAD * sum(lengths)
    if size != want:
        problems.append(f"split {name!r}: shard files hold {size} bytes, expected {want} "
                        "(truncated or partial download?)")
    return problems
