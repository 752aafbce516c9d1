"""Framework-neutral finewebedu_lm logic: options, data, synthetic batches, metrics.

The eval metric is corpus-level, as in the reference: the framework leaves
return, per batch, the summed token cross-entropy and the number of real
tokens (``weights`` sum); the shared eval loop adds them over batches and
DDP ranks, and :func:`lm_metrics` turns the totals into the mean token
loss and the perplexity ``exp(loss)``, once, over numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.workload.base import BaseWorkload, NumpyBatch
from algoperf_ray.workloads.finewebedu_lm import input_pipeline
from algoperf_ray.workloads.finewebedu_lm.config import split_kwargs


def lm_metrics(totals: Mapping[str, float]) -> dict[str, float]:
    """``loss`` (mean token cross-entropy) and ``ppl`` from summed loss and token count."""
    tokens = float(totals["denominator"])
    if tokens <= 0:
        raise ValueError("finewebedu_lm: the eval saw no real tokens (all weights are 0).")
    loss = float(totals["loss"]) / tokens
    return {"loss": loss, "ppl": math.exp(loss) if loss < 700 else math.inf}


class BaseFinewebeduLmWorkload(BaseWorkload):
    """Shared by the JAX and PyTorch leaves; token sums are additive ("sum" eval mode)."""

    eval_mode = "sum"
    # 100,000 validation sequences of 1,024 tokens: too large to keep on the host.
    cache_eval = False

    def __init__(self, meta: WorkloadMeta, data_mode: str = "real", **kwargs: Any) -> None:
        super().__init__(meta, data_mode, **kwargs)
        self.cfg, rest = split_kwargs(meta.model_kwargs, kwargs)
        rest.pop("max_eval_examples", None)  # consumed by BaseWorkload (eval split cap)
        if rest:
            raise TypeError(f"workload {meta.name!r}: unknown options {sorted(rest)}; valid: "
                            "vocab_size, seq_len, model_dim, num_heads, num_layers, mlp_dim, "
                            "multiple_of, rmsnorm_epsilon, qknorm_epsilon, rope_theta, "
                            "compute_dtype, param_dtype, max_eval_examples.")
        # The reference LM trains without dropout; submissions may ask for some.
        self._dropout_rate = 0.0

    # ---- targets (the reference: reached with <=, and no test split) -------------------
    def has_reached_validation_target(self, eval_result: Mapping[str, float]) -> bool:
        value = eval_result.get("validation/ppl")
        return value is not None and value == value and value <= self.validation_target_value

    def has_reached_test_target(self, eval_result: Mapping[str, float]) -> bool:
        return True

    # ---- data -------------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[NumpyBatch]:
        tokens = input_pipeline.token_stream(data_dir, split, self.cfg.vocab_size)
        seqs = input_pipeline.windows(tokens, self.cfg.seq_len)
        if train:
            return input_pipeline.train_batches(seqs, global_batch_size, seed)
        return input_pipeline.eval_batches(seqs, self._split_size(split), global_batch_size,
                                           split)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[NumpyBatch]:
        """Learnable token streams of the real shapes: each row steps by a fixed stride.

        Row r is ``t_0 + r_stride * i (mod vocab)`` with a random start and a
        stride from {1, 2, 3}, so next-token loss can fall during a smoke run.
        """
        gen = np.random.default_rng(seed)
        length, vocab = self.cfg.seq_len, self.cfg.vocab_size

        def rows(n: int) -> np.ndarray:
            start = gen.integers(0, vocab, size=(n, 1))
            stride = gen.integers(1, 4, size=(n, 1))
            return (start + stride * np.arange(length + 1)) % vocab

        if train:
            while True:
                yield input_pipeline.make_batch(rows(global_batch_size), global_batch_size)
        n = self._split_size(split)
        for start in range(0, max(n, 1), global_batch_size):
            yield input_pipeline.make_batch(rows(global_batch_size), min(global_batch_size,
                                                                     n - start))

    # ---- eval -------------------------------------------------------------------------
    def _normalize_eval_metrics(self, num_examples: int,
                                totals: dict[str, float]) -> dict[str, float]:
        del num_examples  # the mean is over real tokens, not sequences
        return lm_metrics(totals)
