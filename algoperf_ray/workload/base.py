"""Framework-neutral workload plumbing shared by every workload.

The chain is linear: ``BaseWorkload`` <- ``<Family>Workload`` (framework-neutral,
``workloads/<family>/workload.py``) <- ``<Family>JaxWorkload`` /
``<Family>TorchWorkload`` (leaves that set ``framework``). A family writes its
data pipeline once, as host numpy batches (:meth:`BaseWorkload._real_batches`);
the leaf adds the model. Moving batches to devices, sharding over DDP ranks,
gathering and all-reducing eval results go through the framework's
:class:`~algoperf_ray.workload.placement.Placement`, and the eval loop is
written here once, in two modes ("sum" and "collect"); no family overrides it.

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
from algoperf_ray.workload.placement import Placement, batch_rows, get_placement

DATA_MODES = ("real", "synthetic")
EVAL_MODES = ("sum", "collect")
NumpyBatch = dict[str, np.ndarray]


class BaseWorkload(spec.Workload):
    """Metadata binding, data modes, placement and the eval loop, written once.

    Class attributes a family or leaf sets:

    - ``framework``: "jax" or "pytorch" (leaf classes); picks :attr:`placement`.
    - ``eval_mode``: "sum" (additive metrics: implement :meth:`_eval_metrics`)
      or "collect" (metrics over every prediction, e.g. mAP or BLEU: implement
      :meth:`_eval_outputs` and :meth:`_collected_metrics`).
    - ``cache_eval``: keep host eval batches in memory and replay them at every
      eval (off for eval sets too large for memory).
    - ``eval_host_fields``: host batch fields ("collect" mode) handed to
      :meth:`_collected_metrics` next to the model outputs.
    - ``eval_jit``: whether the per-batch eval function is jit-compiled (JAX);
      False when it drives a host loop itself (beam search).
    - ``eval_data_seed``: seed of the eval pipelines (None: one per split).
    """

    framework: str | None = None
    eval_mode: str = "sum"
    cache_eval: bool = True
    eval_host_fields: tuple[str, ...] = ()
    eval_jit: bool = True
    eval_data_seed: int | None = None

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
    def eval_batch_size(self) -> int:
        return self._capped(self.meta.eval_batch_size)

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

    # ---- placement (chosen by the leaf's ``framework``) -------------------------------
    @property
    def placement(self) -> Placement:
        """How batches reach this framework's devices and results come back."""
        if self.framework is None:
            raise TypeError(f"{type(self).__name__} (workload {self.meta.name!r}) sets no "
                            "framework; leaf classes set framework = 'jax' or 'pytorch'.")
        return get_placement(self.framework)

    @property
    def device(self) -> Any:
        """This process's compute device (PyTorch leaves move models here)."""
        return self.placement.device

    def _to_device(self, batch: NumpyBatch, train: bool) -> spec.Batch:
        """A global host batch on the devices; families override only to reshape first."""
        return self.placement.put(batch, train=train)

    # ---- eval hooks (families implement the ones of their ``eval_mode``) ---------------
    def _eval_metrics(self, params: Any, model_state: Any, batch: spec.Batch,
                      rng: Any) -> dict[str, Any]:
        """"sum" mode: metric SUMS over one device batch, masked by ``batch['weights']``.

        Written with the framework's array ops: traced under jit (JAX) or run
        under no_grad (PyTorch); the loop adds them over batches and processes.
        """
        raise NotImplementedError(f"workload {self.meta.name!r} (eval_mode='sum') must "
                                  "implement _eval_metrics.")

    def _normalize_eval_metrics(self, num_examples: int,
                                totals: dict[str, float]) -> dict[str, float]:
        """"sum" mode: turn summed metrics into reported ones; default: per-example mean."""
        return normalize_by_count(totals, num_examples)

    def _eval_outputs(self, params: Any, model_state: Any, batch: spec.Batch,
                      rng: Any) -> dict[str, Any]:
        """"collect" mode: per-example arrays (one row per example) of one device batch."""
        raise NotImplementedError(f"workload {self.meta.name!r} (eval_mode='collect') must "
                                  "implement _eval_outputs.")

    def _collected_metrics(self, outputs: dict[str, np.ndarray]) -> dict[str, float]:
        """"collect" mode: metrics from every row of the split, all ranks, as numpy."""
        raise NotImplementedError(f"workload {self.meta.name!r} (eval_mode='collect') must "
                                  "implement _collected_metrics.")

    def _compiled(self, name: str) -> Any:
        """``self.<name>`` compiled once by the placement (jit / no_grad, host results)."""
        key = f"_compiled{name}"
        fn = self.__dict__.get(key)
        if fn is None:
            fn = self.__dict__[key] = self.placement.compile_eval(getattr(self, name),
                                                                   jit=self.eval_jit)
        return fn

    def _eval_batch(self, params: Any, model_state: Any, batch: spec.Batch,
                    rng: Any) -> dict[str, Any]:
        """"sum" mode: this process's summed metrics of one device batch, on host."""
        return self._compiled("_eval_metrics")(params, model_state, batch, rng)

    def _eval_one_batch(self, params: Any, model_state: Any, batch: spec.Batch,
                        rng: Any) -> dict[str, Any]:
        """The per-batch eval function of this ``eval_mode``, on host (benchmarks)."""
        if self.eval_mode == "collect":
            return self._compiled("_eval_outputs")(params, model_state, batch, rng)
        return self._eval_batch(params, model_state, batch, rng)

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

    def _eval_host_batches(self, split: str, num_batches: int, data_dir: str | None,
                           global_batch_size: int) -> Iterator[NumpyBatch]:
        """The split's first ``num_batches`` host batches, replayed from memory if cached."""
        seed = (zlib.crc32(split.encode()) if self.eval_data_seed is None
                else self.eval_data_seed)  # per-split seeds keep synthetic splits distinct

        def make() -> Iterator[NumpyBatch]:
            return self.host_batches(split, seed, data_dir, global_batch_size, train=False)

        if not self.cache_eval:
            return itertools.islice(make(), num_batches)
        key = f"{split}@{global_batch_size}"  # packing may depend on the batch size
        if key not in self._eval_iters:
            self._eval_iters[key] = _RepeatingEval(make)
        return self._eval_iters[key].take(num_batches)

    def _eval_model_on_split(self, split: str, num_examples: int, global_batch_size: int,
                             params: Any, model_state: Any, rng: spec.RandomState,
                             data_dir: str, global_step: int = 0) -> dict[str, float]:
        """The one eval loop: ``ceil(num_examples / batch)`` batches, summed or collected."""
        del global_step
        if self.eval_mode not in EVAL_MODES:
            raise ValueError(f"workload {self.meta.name!r}: eval_mode must be one of "
                             f"{EVAL_MODES}, got {self.eval_mode!r}.")
        num_batches = math.ceil(num_examples / global_batch_size)
        host = self._eval_host_batches(split, num_batches, data_dir, global_batch_size)
        if self.eval_mode == "collect":
            return self._collect_eval(host, params, model_state, rng)
        totals = sum_metrics(self._eval_batch(params, model_state,
                                              self._to_device(b, train=False), rng)
                             for b in host)
        return self._normalize_eval_metrics(num_examples, self.placement.all_reduce(totals))

    def _collect_eval(self, host_batches: Iterator[NumpyBatch], params: Any,
                      model_state: Any, rng: Any) -> dict[str, float]:
        """Per-example outputs of every batch and rank, then one metric computation."""
        placement = self.placement
        eval_fn = self._compiled("_eval_outputs")
        chunks: dict[str, list[np.ndarray]] = {}
        for host in host_batches:
            outputs = eval_fn(params, model_state, self._to_device(host, train=False), rng)
            rows = batch_rows(host)
            local_rows = None if rows is None else rows // placement.world_size
            for name, value in outputs.items():  # drop device padding rows (JAX)
                chunks.setdefault(name, []).append(np.asarray(value)[:local_rows])
            for name in self.eval_host_fields:
                chunks.setdefault(name, []).append(placement.local_part(host[name]))
        if not chunks:
            return {}
        return self._collected_metrics(
            {name: placement.gather(np.concatenate(parts)) for name, parts in chunks.items()})


class _RepeatingEval:
    """Replays one pass of eval batches, built lazily and kept in memory.

    Eval sets are small by design (AlgoPerf caps eval examples), so the host
    batches are materialised once and replayed for every later eval. Families
    with large eval sets set ``cache_eval = False`` instead.
    """

    def __init__(self, make: Any) -> None:
        self._make = make
        self._cache: list[NumpyBatch] | None = None

    def take(self, n: int) -> Iterator[NumpyBatch]:
        if self._cache is None or len(self._cache) < n:
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
