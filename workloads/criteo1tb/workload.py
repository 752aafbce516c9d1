"""Framework-neutral part of the criteo1tb workloads: config, data and eval metric.

The JAX and PyTorch leaves (``criteo1tb_jax.py``, ``criteo1tb_torch.py``)
add only the model and the device-side forward pass; the data pipeline, the
synthetic data and the eval loss (summed sigmoid cross entropy over numpy,
normalised by the number of real examples) are written here once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray import spec
from algoperf_ray.workload.base import BaseWorkload, NumpyBatch
from algoperf_ray.workloads.criteo1tb import input_pipeline
from algoperf_ray.workloads.criteo1tb.metadata import BASE_MODEL_KWARGS, NUM_DENSE_FEATURES

DROPOUT_RATE = 0.0  # the reference's default for every variant


class Criteo1TbWorkload(BaseWorkload):
    """Config resolution, real/synthetic batches and the eval loss.

    The validation split alone is ~13 GB as float32 inputs, so eval batches
    are streamed from disk at every eval (``cache_eval = False``), as the
    reference does, instead of being kept in memory.

    Constructor keyword arguments override the model config of the variant
    (``meta.model_kwargs``); tests use ``vocab_size=...`` for a small table.
    ``max_eval_examples=N`` caps every eval split (and the eval batch) at N
    examples, so a CPU smoke run does not evaluate 83 M synthetic examples.
    """

    cache_eval = False
    eval_data_seed = 0

    def __init__(self, meta: Any, data_mode: str = "real",
                 max_eval_examples: int | None = None, **size_kwargs: Any) -> None:
        unknown = sorted(set(size_kwargs) - set(BASE_MODEL_KWARGS))
        if unknown:
            raise TypeError(f"unknown option(s) {unknown} for workload {meta.name!r}; valid: "
                            f"{sorted(BASE_MODEL_KWARGS) + ['max_eval_examples']}.")
        super().__init__(meta, data_mode=data_mode, max_eval_examples=max_eval_examples,
                         **size_kwargs)
        self.config = {**BASE_MODEL_KWARGS, **meta.model_kwargs, **size_kwargs}
        if self.config["vocab_size"] % 4:
            raise ValueError(f"vocab_size must be divisible by 4 (workload {meta.name!r}): "
                             "the PyTorch model stores the table in 4 row chunks.")
        self._dropout_rate: Any = DROPOUT_RATE

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    def _rate(self, dropout_rate: Any) -> Any:
        """The call's rate (possibly traced), else the one given to ``init_model_fn``."""
        return self._dropout_rate if dropout_rate is None else dropout_rate

    # ---- data ---------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[NumpyBatch]:
        return input_pipeline.criteo_batches(data_dir, split, global_batch_size, seed, train)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[NumpyBatch]:
        """Random batches shaped like the real ones: ids in-vocab, labels in {0, 1}."""
        gen = np.random.default_rng(seed + 1)
        for batch in super()._synthetic_batches(split, seed, global_batch_size, train):
            inputs = batch["inputs"]
            inputs[:, :NUM_DENSE_FEATURES] = np.abs(inputs[:, :NUM_DENSE_FEATURES])
            inputs[:, NUM_DENSE_FEATURES:] = gen.integers(
                0, self.vocab_size, inputs[:, NUM_DENSE_FEATURES:].shape)
            batch["targets"] = (gen.random(global_batch_size) < 0.03).astype(np.float32)
            yield batch

    # ---- eval ("sum" mode, streamed) -------------------------------------------------
    def _eval_metrics(self, params: Any, model_state: Any, batch: spec.Batch,
                      rng: Any) -> dict[str, Any]:
        """Summed sigmoid cross entropy and real-example count of one device batch."""
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        loss = self.loss_fn(batch["targets"], logits, batch["weights"])
        return {"loss": loss["summed"], "num_examples": loss["n_valid_examples"]}

    def _normalize_eval_metrics(self, num_examples: int,
                                totals: dict[str, float]) -> dict[str, float]:
        # Divide by the real (weight 1) examples seen: equal to ``num_examples``
        # on the full dataset, and still a mean on small data directories.
        count = totals.get("num_examples") or num_examples
        return {"loss": totals.get("loss", 0.0) / count}
