"""Framework-neutral workload plumbing shared by every workload.

A workload family writes its data pipeline once, as host numpy batches
(:meth:`BaseWorkload._real_batches`), and its eval metrics once, over numpy
(:meth:`BaseWorkload._normalize_eval_metrics`). Framework leaf classes
(:mod:`algoperf_ray.workload.base_jax`, :mod:`algoperf_ray.workload.base_torch`) only
move batches onto devices and compute per-batch summed metrics.

``data_mode="synthetic"`` swaps the real pipeline for random batches of the
workload's real shapes and dtypes (``meta.batch_fields``), so any submission
can be smoke-tested on any workload without a dataset.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray import spec
from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.metrics import normalize_by_count, sum_metrics

DATA_MODES = ("real", "synthetic")
NumpyBatch = dict[str, np.ndarray]


class BaseWorkload(spec.Workload):
    """Metadata binding, data modes, and the eval loop, written once."""

    def __init__(self, meta: WorkloadMeta, data_mode: str = "real",
                 max_eval_examples: int | None = None, **kwargs: Any) -> None:
        super().__init__()
        if data_mode not in DATA_MODES:
            raise ValueError(f"data_mode must be one of {DATA_MODES}, got {data_mode!r} "
                             f"(workload {meta.name!r}).")
        if max_eval_examples is not None and int(max_eval_examples) < 1:
            raise ValueError(f"max_eval_examples must be >= 1, got {max_eval_examples} "
                             f"(workload {meta.name!r}).")
        self._meta = meta
        self.data_mode = data_mode
        # Caps every eval split for CPU smoke runs; None keeps the benchmark's sizes.
        self.max_eval_examples = None if max_eval_examples is None else int(max_eval_examples)
        self.options = dict(kwargs)

    def _capped(self, n: int) -> int:
        return n if self.max_eval_examples is None else min(n, self.max_eval_examples)

    @property
    def num_eval_train_examples(self) -> int:
        return self._capped(self.meta.num_eval_train_examples)

    @property
    def num_validation_examples(self) -> int:
        return self._capped(self.meta.num_validation_examples)

    @property
    def num_test_examples(self) -> int:
        return self._capped(self.meta.num_test_examples)

    @property
    def meta(self) -> WorkloadMeta:
        return self._meta

    # ---- host data --------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[NumpyBatch]:
        """Global numpy batches of the real dataset. Families override this.

        ``train=True``: shuffled, augmented, repeated forever.
        ``train=False``: one pass in order, the last batch padded to
        ``global_batch_size`` with ``weights == 0`` on padding rows.
        """
        raise NotImplementedError(
            f"workload {self.meta.name!r} has no real data pipeline; use data_mode='synthetic'.")

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[NumpyBatch]:
        """Random batches with the real shapes/dtypes (``meta.batch_fields``)."""
        fields = self.meta.batch_fields
        if not fields:
            raise NotImplementedError(f"workload {self.meta.name!r} declares no batch_fields.")
        gen = np.random.default_rng(seed)

        def one() -> NumpyBatch:
            return {name: random_field(gen, f, global_batch_size) for name, f in fields.items()}

        if train:
            while True:
                yield one()
        n = self._split_size(split)
        for i in range(max(1, math.ceil(n / global_batch_size))):
            batch = one()
            # Like a real eval pass: rows past the split size are padding (weight 0).
            weights = np.zeros((global_batch_size,), np.float32)
            weights[:max(0, n - i * global_batch_size) if n else global_batch_size] = 1
            batch.setdefault("weights", weights)
            yield batch

    def host_batches(self, split: str, seed: int, data_dir: str | None, global_batch_size: int,
                     train: bool) -> Iterator[NumpyBatch]:
        if self.data_mode == "synthetic":
            return self._synthetic_batches(split, seed, global_batch_size, train)
        return self._real_batches(split, seed, data_dir, global_batch_size, train)

    def _split_size(self, split: str) -> int:
        return {"train": self.num_train_examples, "eval_train": self.num_eval_train_examples,
                "validation": self.num_validation_examples,
                "test": self.num_test_examples}[split]

    # ---- device hooks (framework leaves) -------------------------------------------
    def _to_device(self, batch: NumpyBatch, train: bool) -> spec.Batch:
        raise NotImplementedError

    def _eval_batch(self, params: Any, model_state: Any, batch: spec.Batch,
                    rng: Any) -> dict[str, Any]:
        """Summed (not averaged) metrics of one device batch, as host numbers."""
        raise NotImplementedError

    def _reduce_eval_totals(self, totals: dict[str, float]) -> dict[str, float]:
        """Combine totals across processes (DDP); identity by default."""
        return totals

    def _normalize_eval_metrics(self, num_examples: int,
                                totals: dict[str, float]) -> dict[str, float]:
        """Turn summed metrics into reported ones; default: per-example mean."""
        return normalize_by_count(totals, num_examples)

    # ---- spec methods written once ---------------------------------------------------
    def _build_input_queue(self, data_rng: spec.RandomState, split: str, data_dir: str,
                           global_batch_size: int, cache: bool | None = None,
                           repeat_final_dataset: bool | None = None,
                           num_batches: int | None = None) -> Iterator[spec.Batch]:
        train = split == "train"
        batches = self.host_batches(split, rng_lib.to_seed(data_rng), data_dir,
                                    global_batch_size, train=train)
        if num_batches is not None:
            batches = itertools.islice(batches, num_batches)
        return (self._to_device(b, train=train) for b in batches)

    def _eval_model_on_split(self, split: str, num_examples: int, global_batch_size: int,
                             params: Any, model_state: Any, rng: spec.RandomState,
                             data_dir: str, global_step: int = 0) -> dict[str, float]:
        num_batches = math.ceil(num_examples / global_batch_size)
        if split not in self._eval_iters:
            # Cache a repeating host iterator so later evals avoid a rebuild.
            # Each split gets its own seed so synthetic splits differ.
            seed = zlib.crc32(split.encode())
            self._eval_iters[split] = _RepeatingEval(
                lambda: self.host_batches(split, seed, data_dir, global_batch_size, train=False))
        it = self._eval_iters[split]
        totals = sum_metrics(
            self._eval_batch(params, model_state, self._to_device(b, train=False), rng)
            for b in it.take(num_batches))
        totals = self._reduce_eval_totals(totals)
        return self._normalize_eval_metrics(num_examples, totals)


class _RepeatingEval:
    """Replays one pass of eval batches, built lazily and kept in memory.

    Eval sets are small by design (AlgoPerf caps eval examples), so the host
    batches are materialised once and replayed for every later eval.
    """

    def __init__(self, make: Any) -> None:
        self._make = make
        self._cache: list[NumpyBatch] | None = None

    def take(self, n: int) -> Iterator[NumpyBatch]:
        if self._cache is None:
            self._cache = list(itertools.islice(self._make(), n))
        return iter(self._cache[:n])


def random_field(gen: np.random.Generator, field: Any, batch: int) -> np.ndarray:
    """One random array for a :class:`~algoperf_ray.benchmark.meta.BatchField`."""
    shape = (batch, *field.shape)
    dtype = np.dtype(field.dtype)
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        high = field.high if field.high is not None else 2
        return gen.integers(field.low, high, size=shape).astype(dtype)
    return gen.standard_normal(shape).astype(dtype)
