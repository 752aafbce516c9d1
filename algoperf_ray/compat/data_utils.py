"""``algoperf.data_utils`` for submissions: the batch padding and sharding helpers.

Written over numpy; the device count is JAX's local count when JAX is
installed (the pmap layout), else the visible CUDA devices, else 1. The
reference's PyTorch DataLoader helpers (``DistributedEvalSampler``,
``PrefetchedWrapper``) are workload internals no public submission imports,
so they are not provided.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np


def local_device_count() -> int:
    """Devices one process drives (the leading axis of a pmap batch)."""
    counts = [1]
    try:
        import jax

        counts.append(jax.local_device_count())
    except ImportError:
        pass
    try:
        import torch

        counts.append(torch.cuda.device_count())
    except ImportError:
        pass
    return max(counts)


def pad(tensor: np.ndarray, pad_size: int, padding_value: Any = 0) -> np.ndarray:
    """``tensor`` with ``pad_size`` rows of ``padding_value`` appended along axis 0."""
    padding = np.full((pad_size, *tensor.shape[1:]), padding_value, dtype=tensor.dtype)
    return np.concatenate((tensor, padding), axis=0)


def shard(batch: Any) -> Any:
    """Every array ``[rows, ...]`` -> ``[local_devices, rows / local_devices, ...]``."""
    import jax

    n = local_device_count()
    return jax.tree_util.tree_map(lambda x: np.reshape(x, (n, -1, *np.shape(x)[1:])), batch)


def _rows(value: Any) -> int:
    return int((value[0] if isinstance(value, tuple) else value).shape[0])


def shard_and_maybe_pad_np(batch: dict[str, Any], padding_value: Any = 0,
                           global_batch_size: int | None = None) -> dict[str, Any]:
    """Pad a host batch to ``global_batch_size`` (or to a multiple of the devices).

    Padding rows get ``weights == 0``: a ``weights`` field is added (ones,
    one per target row; per row for targets of rank 3 or more) when the batch
    has none, then padded like every field. The batch is returned unsharded,
    as the current reference does; :func:`shard` adds the device axis.
    """
    import jax

    rows = _rows(batch["inputs"])
    if global_batch_size is not None and global_batch_size < rows:
        raise ValueError(f"global_batch_size ({global_batch_size}) is smaller than the batch "
                         f"({rows} rows); pass the size the batch is padded up to.")
    remainder = rows % local_device_count()
    extra = (global_batch_size - rows if global_batch_size is not None
             else (local_device_count() - remainder) % local_device_count())
    if not extra:
        return batch
    batch = dict(batch)
    if batch.get("weights") is None:
        shape = np.shape(batch["targets"][0] if isinstance(batch["targets"], tuple)
                         else batch["targets"])
        batch["weights"] = np.ones(shape if len(shape) < 3 else shape[:1], np.float32)
    return jax.tree_util.tree_map(lambda x: pad(np.asarray(x), extra, padding_value), batch)


def cycle(iterable: Iterable[Any], keys: tuple[str, ...] = ("inputs", "targets"),
          custom_sampler: bool = False, use_mixup: bool = False,
          mixup_alpha: float = 0.2) -> Iterator[dict[str, Any]]:
    """Repeat ``iterable`` forever as dicts of ``keys`` (a sampler's epoch advances)."""
    epoch = 0
    while True:
        for batch in iterable:
            if use_mixup:
                batch = mixup_pytorch(batch, alpha=mixup_alpha)
            if len(keys) != len(batch):
                raise ValueError(f"cycle: {len(batch)} batch parts for keys {keys}.")
            yield dict(zip(keys, batch, strict=True))
        epoch += 1
        sampler = getattr(iterable, "sampler", None)
        if custom_sampler and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)


def mixup_pytorch(batch: tuple[Any, Any], alpha: float = 0.2,
                  num_classes: int = 1000) -> tuple[Any, Any]:
    """Mix each example with its neighbour (``torch.roll`` by 1), one Beta weight per batch."""
    import torch
    import torch.nn.functional as F

    inputs, targets = batch
    targets = F.one_hot(targets, num_classes=num_classes)
    weight = torch.distributions.beta.Beta(alpha, alpha).sample()
    mix = lambda t: weight * t + (1.0 - weight) * torch.roll(t, 1, dims=0)  # noqa: E731
    return mix(inputs), mix(targets)
