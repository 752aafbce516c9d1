"""Framework-neutral part of the fastMRI workloads: options, data, loss, eval sums.

The leaves (``fastmri_jax.py``, ``fastmri_torch.py``) add the U-Net and set
``framework``. Variants differ only in ``meta.model_kwargs`` (width, depth,
activation, norm), so one leaf class per framework serves all four.

Eval is "sum" mode: each device batch returns the sums of per-example SSIM
and L1 loss over its valid rows (``metrics.eval_sums``, run with the
framework's arrays on the device), and the shared loop adds them over
batches and DDP ranks and divides by the example count, as the reference
does. No image leaves the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray import spec
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workload.metrics import masked_loss_dict
from algoperf_ray.workloads.fastmri import input_pipeline, metrics

MODEL_OPTIONS = ("num_channels", "num_pool_layers", "use_tanh", "use_layer_norm")


def model_config(meta: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The variant's U-Net arguments, with size overrides (tests, benchmarks) applied."""
    unknown = set(options) - set(MODEL_OPTIONS)
    if unknown:
        raise TypeError(f"workload {meta.name!r}: unknown option(s) {sorted(unknown)}; "
                        f"valid: {list(MODEL_OPTIONS)}.")
    cfg = {**meta.model_kwargs, **options}
    for key in ("num_channels", "num_pool_layers"):
        if int(cfg[key]) < 1:
            raise ValueError(f"workload {meta.name!r}: {key} must be >= 1, got {cfg[key]}.")
    return {"num_channels": int(cfg["num_channels"]),
            "num_pool_layers": int(cfg["num_pool_layers"]),
            "use_tanh": bool(cfg["use_tanh"]), "use_layer_norm": bool(cfg["use_layer_norm"])}


class FastMRIWorkload(BaseWorkload):
    """fastMRI data, L1 loss and SSIM; the leaves supply the model."""

    eval_mode = "sum"

    def __init__(self, meta: Any, data_mode: str = "real", max_eval_examples: int | None = None,
                 **options: Any) -> None:
        super().__init__(meta, data_mode, max_eval_examples, **options)
        model_config(meta, self.options)  # fail at construction on a bad option

    @property
    def model_config(self) -> dict[str, Any]:
        return model_config(self.meta, self.options)

    @property
    def cache_eval(self) -> bool:  # type: ignore[override]
        """Replay eval batches from memory only in a single process.

        The three cached eval splits hold ~9 GB of 320x320 float32 images; one
        copy per DDP rank would not fit, so DDP ranks rebuild them per eval.
        """
        return self.placement.world_size == 1

    # ---- host data ------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict[str, np.ndarray]]:
        """Real slices; each process decodes only the rows its devices receive.

        An eval pass stops at the split's (possibly capped) size, so the sums
        the loop divides by that size never include extra examples.
        """
        placement = self.placement
        per = global_batch_size // placement.world_size
        rows = (placement.rank * per, (placement.rank + 1) * per)
        return input_pipeline.batches(
            data_dir, split, seed, global_batch_size, train, local_rows=rows,
            max_examples=None if train else self._split_size(split),
            num_validation_files=input_pipeline.NUM_VALIDATION_FILES)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[dict[str, np.ndarray]]:
        """Random batches with valid statistics: positive ``std`` and ``volume_max``."""
        for batch in super()._synthetic_batches(split, seed, global_batch_size, train):
            batch["inputs"] = np.clip(batch["inputs"], -6, 6)
            batch["targets"] = np.clip(batch["targets"], -6, 6)
            batch["mean"] = np.abs(batch["mean"]) * 1e-4
            batch["std"] = np.abs(batch["std"]) * 1e-4 + 1e-5
            batch["volume_max"] = batch["mean"] + 6 * batch["std"]
            yield batch

    # ---- loss and metrics (``xp`` is jax.numpy or torch, set by the leaf) --------------
    def _xp(self) -> Any:
        raise NotImplementedError

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Per-example mean absolute error (``label_smoothing`` does not apply)."""
        del label_smoothing
        xp = self._xp()
        if logits_batch.shape != label_batch.shape:
            raise ValueError(f"workload {self.meta.name!r} loss: outputs "
                             f"{tuple(logits_batch.shape)} and targets "
                             f"{tuple(label_batch.shape)} differ.")
        per_example = metrics.l1_per_example(logits_batch, label_batch, xp)
        return masked_loss_dict(per_example, mask_batch, xp)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Summed SSIM and L1 loss over the batch's valid rows."""
        outputs, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                   update_batch_norm=False)
        return metrics.eval_sums(outputs, batch, self._xp())
