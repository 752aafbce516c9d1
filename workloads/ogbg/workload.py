"""Framework-neutral parts of the ogbg workloads: data, loss, eval.

The JAX and PyTorch leaves (``ogbg_jax.py``, ``ogbg_torch.py``) add the
model and device placement. Variants differ only in ``meta.model_kwargs``
(activation, widths, depth), so one leaf class per framework serves all four.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray import spec
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workloads.ogbg import input_pipeline, metrics

MODEL_OPTIONS = ("activation", "latent_dim", "hidden_dims", "num_message_passing_steps")
ACTIVATIONS = ("relu", "gelu", "silu")


def model_config(meta: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The variant's architecture, with size overrides (tests, benchmarks) applied."""
    unknown = set(options) - set(MODEL_OPTIONS)
    if unknown:
        raise TypeError(f"workload {meta.name!r}: unknown option(s) {sorted(unknown)}; "
                        f"valid: {list(MODEL_OPTIONS)}.")
    cfg = {**meta.model_kwargs, **options}
    cfg["hidden_dims"] = tuple(int(d) for d in cfg["hidden_dims"])
    if cfg["activation"] not in ACTIVATIONS:
        raise ValueError(f"workload {meta.name!r}: activation {cfg['activation']!r} is not one "
                         f"of {ACTIVATIONS}.")
    return cfg


def bce_with_mask(labels: Any, logits: Any, mask: Any, label_smoothing: float, xp: Any) -> Any:
    """Per-(graph, task) sigmoid cross entropy, 0 where ``mask == 0`` (any ``xp``).

    Masked labels are set to -1 before use (as the reference does) so NaN or
    padding never reaches a gradient; the stable form matches TensorFlow's
    ``sigmoid_cross_entropy_with_logits``.
    """
    if not logits.shape == labels.shape == mask.shape:
        raise ValueError(f"ogbg loss: shapes differ: logits {tuple(logits.shape)}, targets "
                         f"{tuple(labels.shape)}, weights {tuple(mask.shape)}.")
    if len(logits.shape) != 2:
        raise ValueError(f"ogbg loss: logits must be [graphs, tasks], got {tuple(logits.shape)}.")
    valid = mask > 0
    labels = xp.where(valid, labels, -xp.ones_like(labels))
    smoothed = (1.0 - label_smoothing) * labels + label_smoothing / labels.shape[-1]
    positive = logits >= 0
    relu_logits = xp.where(positive, logits, xp.zeros_like(logits))
    abs_logits = xp.where(positive, logits, -logits)
    losses = relu_logits - logits * smoothed + xp.log1p(xp.exp(-abs_logits))
    return xp.where(valid, losses, xp.zeros_like(losses))


class OgbgWorkload(BaseWorkload):
    """ogbg, framework-neutral: options, graph batches, loss, and the mAP eval.

    mAP needs every prediction of the split at once, so the eval runs in the
    shared loop's "collect" mode: per batch the leaf's forward pass gives the
    logits of this process's graphs, the loop gathers them over ranks with the
    host targets and weights, and :func:`metrics.eval_metrics` runs once.
    """

    eval_mode = "collect"
    eval_host_fields = ("targets", "weights")
    eval_data_seed = 0  # the eval_train shuffle is the same at every eval
    _num_outputs = 128
    DROPOUT_RATE = 0.1  # the reference's default

    def __init__(self, meta: Any, data_mode: str = "real", **kwargs: Any) -> None:
        super().__init__(meta, data_mode, **kwargs)
        model_config(meta, self.options)  # fail at construction on a bad option
        self._dropout_rate: Any = self.DROPOUT_RATE

    @property
    def model_config(self) -> dict[str, Any]:
        return model_config(self.meta, self.options)

    def _rate(self, dropout_rate: Any) -> Any:
        """The call's rate (possibly traced), else the one given to ``init_model_fn``."""
        return self._dropout_rate if dropout_rate is None else dropout_rate

    def _xp(self) -> Any:
        """The array namespace of the leaf (``jax.numpy`` or ``torch``)."""
        raise NotImplementedError

    # ---- loss --------------------------------------------------------------------------
    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        xp = self._xp()
        if mask_batch is None:
            mask_batch = xp.ones_like(logits_batch)
        per_example = bce_with_mask(label_batch, logits_batch, mask_batch, label_smoothing, xp)
        return {"summed": xp.sum(per_example), "n_valid_examples": xp.sum(mask_batch > 0) * 1.0,
                "per_example": per_example}

    # ---- host data -----------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict[str, Any]]:
        shuffle = split in ("train", "eval_train")  # the reference shuffles eval_train too
        graphs = input_pipeline.tfds_graphs(split, data_dir, seed, shuffle)
        return input_pipeline.batch_graphs(graphs, global_batch_size,
                                           self.placement.num_shards, pad_last=not train)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[dict[str, Any]]:
        """Random molecule-like graphs through the real batcher (real shapes/dtypes)."""
        batches = input_pipeline.batch_graphs(input_pipeline.synthetic_graphs(seed),
                                              global_batch_size, self.placement.num_shards,
                                              pad_last=True)
        if train:
            return batches
        return itertools.islice(batches, max(1, math.ceil(self._split_size(split)
                                                          / global_batch_size)))

    # ---- eval ("collect" mode) ------------------------------------------------------------
    def _eval_outputs(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Eval-mode logits, one row per graph of this process's part of the batch."""
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        return {"logits": logits}

    def _collected_metrics(self, outputs: dict[str, np.ndarray]) -> dict[str, float]:
        return metrics.eval_metrics(outputs["logits"], outputs["targets"], outputs["weights"])
