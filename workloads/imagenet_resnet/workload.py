"""Framework-neutral part of the ImageNet workloads: options, data, eval sums.

Both ImageNet families (``imagenet_resnet`` and ``imagenet_vit``) share
this class: the same data (:mod:`.input_pipeline`), the same softmax
cross-entropy loss and the same eval metrics (accuracy and loss, summed per
batch and divided by the example count). A family sets ``MODEL_OPTIONS``
(the constructor options it accepts, checked at construction) and
``_pipeline_extras`` (the ViT adds RandAugment and mixup); the framework
leaves add the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray.workload.base import BaseWorkload, random_field
from algoperf_ray.workloads.imagenet_resnet import input_pipeline
from algoperf_ray.workloads.imagenet_resnet.metadata import RESIZE_SIZE, batch_fields


def checked_options(meta: Any, options: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The variant's model options with overrides (tests, benchmarks) applied."""
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError(f"workload {meta.name!r}: unknown option(s) {sorted(unknown)}; "
                        f"valid: {list(allowed)}.")
    cfg = {**meta.model_kwargs, **options}
    if int(cfg["image_size"]) < 8:
        raise ValueError(f"workload {meta.name!r}: image_size must be >= 8, got "
                         f"{cfg['image_size']}.")
    return cfg


class ImagenetWorkload(BaseWorkload):
    """ImageNet data and metrics; subclasses choose the model."""

    MODEL_OPTIONS: tuple[str, ...] = ()
    eval_mode = "sum"
    # 50k validation images at 224x224 float32 are 30 GB: stream every eval.
    cache_eval = False
    num_classes = 1000

    def __init__(self, meta: Any, data_mode: str = "real", max_eval_examples: int | None = None,
                 **options: Any) -> None:
        super().__init__(meta, data_mode, max_eval_examples, **options)
        checked_options(meta, self.options, self.MODEL_OPTIONS)  # fail early on a bad option

    @property
    def model_config(self) -> dict[str, Any]:
        """The model's constructor arguments (``image_size`` is a data option)."""
        cfg = checked_options(self.meta, self.options, self.MODEL_OPTIONS)
        cfg.pop("image_size")
        return cfg

    @property
    def image_size(self) -> int:
        return int(checked_options(self.meta, self.options, self.MODEL_OPTIONS)["image_size"])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)

    def _pipeline_extras(self) -> dict[str, Any]:
        """Extra :class:`~.input_pipeline.ImagenetConfig` fields of the family."""
        return {}

    def pipeline_config(self) -> input_pipeline.ImagenetConfig:
        size = self.image_size
        # Reduced-size runs keep the reference's crop-to-resize ratio (224/256).
        resize = RESIZE_SIZE if size == 224 else max(size, round(size * RESIZE_SIZE / 224))
        return input_pipeline.ImagenetConfig(
            mean=tuple(self.meta.train_mean), stddev=tuple(self.meta.train_stddev),
            image_size=size, resize_size=resize, num_classes=self.num_classes,
            **self._pipeline_extras())

    # ---- host data ---------------------------------------------------------------------
    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[dict[str, np.ndarray]]:
        return input_pipeline.split_batches(split, data_dir, global_batch_size, train, seed,
                                            self.pipeline_config(),
                                            self.num_eval_train_examples)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[dict[str, np.ndarray]]:
        """Random images of this instance's size; eval passes padded like real ones."""
        fields = batch_fields(self.image_size)
        if not train:
            yield from self._synthetic_eval(split, seed, global_batch_size, fields)
            return
        gen = np.random.default_rng(seed)
        mixup = self.pipeline_config().mixup_alpha
        while True:
            batch = {k: random_field(gen, f, global_batch_size) for k, f in fields.items()}
            if mixup:  # the real ViT train targets: a mix of two one-hot labels
                weight = np.float32(gen.beta(mixup, mixup))
                onehot = np.eye(self.num_classes, dtype=np.float32)[batch["targets"]]
                batch["targets"] = weight * onehot + (1 - weight) * np.roll(onehot, 1, axis=0)
            yield batch

    def _synthetic_eval(self, split: str, seed: int, global_batch_size: int,
                        fields: dict) -> Iterator[dict[str, np.ndarray]]:
        gen = np.random.default_rng(seed)
        n = self._split_size(split)
        for start in range(0, max(n, 1), global_batch_size):
            batch = {k: random_field(gen, f, global_batch_size) for k, f in fields.items()}
            batch["weights"] = (np.arange(start, start + global_batch_size) < n).astype(np.float32)
            yield batch

    # ---- loss and metrics (``xp`` is jax.numpy or torch, set by the leaf) ----------------
    def _xp(self) -> Any:
        raise NotImplementedError

    def _per_example_loss(self, labels: Any, logits: Any, label_smoothing: float) -> Any:
        raise NotImplementedError

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Masked softmax cross entropy; labels are class ids or (mixup) soft targets."""
        from algoperf_ray.workload.metrics import masked_loss_dict

        per_example = self._per_example_loss(label_batch, logits_batch, label_smoothing)
        return masked_loss_dict(per_example, mask_batch, self._xp())

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Summed accuracy and loss over the batch's valid (weight 1) rows."""
        from algoperf_ray import spec

        xp = self._xp()
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        weights = batch["weights"]
        correct = (xp.argmax(logits, -1) == batch["targets"]) * weights
        return {"accuracy": xp.sum(correct),
                "loss": self.loss_fn(batch["targets"], logits, weights)["summed"]}
