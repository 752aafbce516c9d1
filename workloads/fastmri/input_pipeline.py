"""fastMRI knee single-coil slices as numpy batches (framework-neutral).

Layout under ``data_dir`` (what ``scripts/setup_fastmri.py`` produces, and
what the reference reads): ``knee_singlecoil_train/*.h5`` and
``knee_singlecoil_val/*.h5``, one volume per file, with datasets ``kspace``
``(slices, 640, W)`` complex64 and ``reconstruction_esc`` ``(slices, 320, 320)``
float32, and the volume's maximum as the attribute ``max``.

Splits, as in the reference: ``train`` and ``eval_train`` read the training
files; the official validation files, sorted by name, are split into
``validation`` (the first 100, 3,554 slices) and ``test`` (the other 99,
3,581 slices). Every slice of every volume is an example.

Each example is built like the reference: a 4x random Cartesian column mask
with an 8 % fully sampled centre, a centred orthonormal 2-D inverse FFT of
the masked k-space, a centre crop to the target's 320x320, the magnitude,
then normalisation by that zero-filled image's mean and (population) std,
clipped to [-6, 6]; the target is normalised with the same mean and std and
clipped. ``mean``, ``std`` and ``volume_max`` travel with the batch for SSIM.

Randomness: a training slice's mask is drawn from ``(seed, slice id)``, so a
slice keeps one mask for the whole run (the reference numbers examples before
repeating, with the same effect); eval slices all use the fixed eval seed 0.
The draws come from numpy, not TensorFlow, so individual masks differ from the
reference's while following the same distribution.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_DIR = "knee_singlecoil_train"
VAL_DIR = "knee_singlecoil_val"
NUM_VALIDATION_FILES = 100  # sorted val files [:100] -> validation, [100:] -> test
CENTER_FRACTION = 0.08
ACCELERATION = 4.0
EVAL_SEED = 0
CLIP = 6.0
SPLITS = ("train", "eval_train", "validation", "test")
FIELDS = ("inputs", "targets", "mean", "std", "volume_max")


class FastMRIDataError(ValueError):
    """The fastMRI files are missing or malformed; the message names the file and fix."""


def split_files(data_dir: str | os.PathLike, split: str,
                num_validation_files: int = NUM_VALIDATION_FILES) -> list[Path]:
    """The sorted HDF5 files of ``split``."""
    if split not in SPLITS:
        raise ValueError(f"fastmri: unknown split {split!r}; valid: {SPLITS}.")
    if data_dir is None:
        raise FastMRIDataError("fastmri: no --data-dir given; prepare the data with "
                               "`python scripts/setup_fastmri.py` or use --data synthetic.")
    sub = TRAIN_DIR if split in ("train", "eval_train") else VAL_DIR
    folder = Path(data_dir) / sub
    if not folder.is_dir():
        raise FastMRIDataError(f"fastmri: folder {folder} not found; run "
                               f"`python scripts/setup_fastmri.py --data-dir {data_dir}`.")
    files = sorted(folder.glob("*.h5"))
    if split == "validation":
        files = files[:num_validation_files]
    elif split == "test":
        files = files[num_validation_files:]
    if not files:
        raise FastMRIDataError(f"fastmri: no .h5 files for split {split!r} in {folder}.")
    return files


def slice_index(files: list[Path]) -> list[tuple[int, int]]:
    """``(file number, slice number)`` of every example, in file order."""
    import h5py

    index = []
    for i, path in enumerate(files):
        try:
            with h5py.File(path, "r") as f:
                n = f["kspace"].shape[0]
        except (OSError, KeyError) as e:
            raise FastMRIDataError(f"fastmri: cannot read 'kspace' from {path} ({e}); re-run "
                                   f"`python scripts/setup_fastmri.py --check-only`.") from e
        index.extend((i, s) for s in range(n))
    return index


def column_mask(num_cols: int, gen: np.random.Generator) -> np.ndarray:
    """The reference's 4x column mask: a centred block of 8 % plus random columns."""
    num_low = int(num_cols * CENTER_FRACTION)
    mask = np.zeros(num_cols, np.float32)
    pad = (num_cols - num_low + 1) // 2
    mask[pad:pad + num_low] = 1.0
    prob = (num_cols / ACCELERATION - num_low) / (num_cols - num_low)
    return np.maximum(mask, (gen.random(num_cols) < prob).astype(np.float32))


def process_slice(kspace: np.ndarray, target: np.ndarray, volume_max: float,
                  gen: np.random.Generator) -> dict[str, Any]:
    """One example from a slice's k-space and its fully sampled reconstruction."""
    masked = kspace * column_mask(kspace.shape[1], gen)[None, :]
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(masked), norm="ortho"))
    th, tw = target.shape
    top, left = (kspace.shape[0] - th) // 2, (kspace.shape[1] - tw) // 2
    magnitude = np.abs(image[top:top + th, left:left + tw]).astype(np.float32)
    mean, std = float(magnitude.mean()), float(magnitude.std())
    scale = std if std > 0 else 1.0  # a blank slice stays finite
    return {"inputs": np.clip((magnitude - mean) / scale, -CLIP, CLIP).astype(np.float32),
            "targets": np.clip((target - mean) / scale, -CLIP, CLIP).astype(np.float32),
            "mean": np.float32(mean), "std": np.float32(std),
            "volume_max": np.float32(volume_max)}


class _Reader:
    """Reads slices, keeping a few HDF5 files open (random access during training)."""

    def __init__(self, files: list[Path], max_open: int = 64) -> None:
        self._files = files
        self._open: collections.OrderedDict[int, Any] = collections.OrderedDict()
        self._max_open = max_open

    def read(self, file_no: int, slice_no: int) -> tuple[np.ndarray, np.ndarray, float]:
        import h5py

        f = self._open.pop(file_no, None)
        if f is None:
            f = h5py.File(self._files[file_no], "r")
            if len(self._open) >= self._max_open:
                self._open.popitem(last=False)[1].close()
        self._open[file_no] = f
        try:
            return (f["kspace"][slice_no], f["reconstruction_esc"][slice_no],
                    float(f.attrs.get("max", 0.0)))
        except KeyError as e:
            raise FastMRIDataError(f"fastmri: {self._files[file_no]} lacks {e}; re-run "
                                   f"`python scripts/setup_fastmri.py --check-only`.") from e

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()


def _example_stream(split: str, index: list[tuple[int, int]], seed: int, shuffle: bool,
                    repeat: bool) -> Iterator[tuple[int, int, np.random.Generator]]:
    """``(file, slice, mask generator)`` in reading order."""
    for epoch in itertools.count():
        order = (np.random.default_rng([seed, epoch]).permutation(len(index)) if shuffle
                 else np.arange(len(index)))
        for i in order:
            mask_seed = [seed, int(i)] if split in ("train", "eval_train") else [EVAL_SEED]
            yield (*index[i], np.random.default_rng(mask_seed))
        if not repeat:
            return


def stack(examples: list[dict[str, Any] | None], batch_size: int) -> dict[str, np.ndarray]:
    """Stack examples (``None``: a row left zero); pad to ``batch_size``, add ``weights``."""
    template = next(e for e in examples if e is not None)
    batch = {k: np.stack([np.zeros_like(template[k]) if e is None else e[k] for e in examples])
             for k in FIELDS}
    n = len(examples)
    if n < batch_size:
        batch = {k: np.concatenate([v, np.zeros((batch_size - n, *v.shape[1:]), v.dtype)])
                 for k, v in batch.items()}
    weights = np.zeros(batch_size, np.float32)
    weights[:n] = 1.0
    batch["weights"] = weights
    return batch


def batches(data_dir: str | os.PathLike, split: str, seed: int, global_batch_size: int,
            train: bool, local_rows: tuple[int, int] | None = None,
            max_examples: int | None = None, num_workers: int | None = None,
            num_validation_files: int = NUM_VALIDATION_FILES) -> Iterator[dict[str, np.ndarray]]:
    """Global batches of ``split``.

    ``train=True``: shuffled every epoch, repeated forever, no ``weights``
    (as the reference). ``train=False``: one pass (``eval_train`` shuffled
    once, like the reference), the last batch padded with ``weights == 0``.
    Slices are transformed on a thread pool (numpy's FFT releases the GIL).
    ``local_rows=(lo, hi)``: only rows ``lo:hi`` of each batch are read and
    transformed (the rows this DDP rank keeps); the others stay zero, while
    ``weights`` still describes the whole global batch. ``max_examples`` ends
    an eval pass early (a capped eval split never counts extra examples).
    """
    lo, hi = local_rows if local_rows is not None else (0, global_batch_size)
    files = split_files(data_dir, split, num_validation_files)
    index = slice_index(files)
    stream = _example_stream(split, index, seed, shuffle=split in ("train", "eval_train"),
                             repeat=train)
    if max_examples is not None and not train:
        stream = itertools.islice(stream, max_examples)
    reader = _Reader(files)
    workers = num_workers or min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending: collections.deque = collections.deque()
        try:
            for chunk in _chunks(stream, global_batch_size):
                futures = [pool.submit(process_slice, *reader.read(f, s), gen)
                           if lo <= j < hi else None for j, (f, s, gen) in enumerate(chunk)]
                if not any(futures):  # this rank's rows are all padding: still
                    futures[0] = pool.submit(process_slice, *reader.read(*chunk[0][:2]),
                                             chunk[0][2])  # one row for the shapes
                pending.append((futures, len(chunk)))
                if len(pending) > 1:  # one batch in flight while the last is consumed
                    yield _finish(pending.popleft(), global_batch_size, train)
            while pending:
                yield _finish(pending.popleft(), global_batch_size, train)
        finally:
            reader.close()


def _chunks(stream: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while True:
        chunk = list(itertools.islice(stream, size))
        if not chunk:
            return
        yield chunk


def _finish(item: tuple[list[Any], int], batch_size: int, train: bool) -> dict[str, np.ndarray]:
    futures, _ = item
    batch = stack([None if f is None else f.result() for f in futures], batch_size)
    if train:
        del batch["weights"]
    return batch
