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
from algoperf_ray.workloads.ogbg import input_pipeline, metrics

from algoperf_ray import spec
from algoperf_ray.workload.base import BaseWorkload, _RepeatingEval

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


class OgbgWorkloadMixin(BaseWorkload):
    """Shared ogbg behaviour; leaves implement ``_num_shards``, ``_predict``, ``_xp``."""

    _num_outputs = 128

    def __init__(self, meta: Any, data_mode: str = "real", **kwargs: Any) -> None:
        super().__init__(meta, data_mode, **kwargs)
        model_config(meta, self.options)  # fail at construction on a bad option

    @property
    def model_config(self) -> dict[str, Any]:
        return model_config(self.meta, self.options)

    # ---- leaf hooks -------------------------------------------------------------------
    def _num_shards(self) -> int:
        """Self-contained graph shards per global batch (devices or DDP ranks)."""
        raise NotImplementedError

    def _predict(self, params: Any, model_state: Any, batch: dict[str, Any]) -> np.ndarray:
        """Eval-mode logits of this process's part of a device batch, on host."""
        raise NotImplementedError

    def _gather(self, array: np.ndarray) -> np.ndarray:
        """Concatenate an eval array across processes (DDP); identity by default."""
        return array

    def _xp(self) -> Any:
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

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Summable per-batch metrics (loss/accuracy sums, label count), traceable.

        The split metrics come from :meth:`_eval_model_on_split` (mAP needs every
        prediction at once); this per-batch form serves benchmarks and the base
        ``_eval_batch`` contract.
        """
        xp = self._xp()
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        mask = (batch["weights"] > 0) * 1.0
        losses = bce_with_mask(batch["targets"], logits, mask, 0.0, xp)
        correct = ((logits > 0) == (batch["targets"] > 0.5)) * mask
        return {"loss_sum": xp.sum(losses), "correct_sum": xp.sum(correct),
                "num_labels": xp.sum(mask)}

    # ---- host data -----------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict[str, Any]]:
        shuffle = split in ("train", "eval_train")  # the reference shuffles eval_train too
        graphs = input_pipeline.tfds_graphs(split, data_dir, seed, shuffle)
        return input_pipeline.batch_graphs(graphs, global_batch_size, self._num_shards(),
                                           pad_last=not train)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[dict[str, Any]]:
        """Random molecule-like graphs through the real batcher (real shapes/dtypes)."""
        batches = input_pipeline.batch_graphs(input_pipeline.synthetic_graphs(seed),
                                              global_batch_size, self._num_shards(),
                                              pad_last=True)
        if train:
            return batches
        return itertools.islice(batches, max(1, math.ceil(self._split_size(split)
                                                          / global_batch_size)))

    # ---- eval -----------------------------------------------------------------------------
    def _eval_model_on_split(self, split: str, num_examples: int, global_batch_size: int,
                             params: Any, model_state: Any, rng: Any, data_dir: str,
                             global_step: int = 0) -> dict[str, float]:
        """mAP needs every prediction at once, so collect logits instead of sums.

        As in the reference, ``ceil(num_examples / global_batch_size)`` batches
        are evaluated; here they are the same cached batches at every eval.
        """
        del rng, global_step
        num_batches = math.ceil(num_examples / global_batch_size)
        key = f"{split}@{global_batch_size}"  # packing depends on the batch size
        if key not in self._eval_iters:
            self._eval_iters[key] = _RepeatingEval(
                lambda: self.host_batches(split, 0, data_dir, global_batch_size, train=False))
        logits, labels, weights = [], [], []
        for host in self._eval_iters[key].take(num_batches):
            device_batch = self._to_device(host, train=False)
            logits.append(self._predict(params, model_state, device_batch))
            labels.append(self._local_part(host["targets"]))
            weights.append(self._local_part(host["weights"]))
        if not logits:
            return {}
        arrays = [self._gather(np.concatenate(a)) for a in (logits, labels, weights)]
        return metrics.eval_metrics(*arrays)

    def _local_part(self, array: np.ndarray) -> np.ndarray:
        """This process's rows of a global host array (all of it by default)."""
        return array
