"""Framework-neutral part of the ViT workloads: the ImageNet workload plus options.

Data, loss and eval metrics are the ImageNet ones
(:class:`algoperf_ray.workloads.imagenet_resnet.workload.ImagenetWorkload`);
the ViT adds RandAugment and mixup to the training data and takes a
dropout rate (default 0.0, as the reference).
"""

from __future__ import annotations

from typing import Any

from algoperf_ray.workloads.imagenet_resnet.workload import ImagenetWorkload
from algoperf_ray.workloads.imagenet_vit import input_pipeline

MODEL_OPTIONS = ("width", "depth", "mlp_dim", "num_heads", "patch_size", "use_glu",
                 "use_post_layer_norm", "use_map", "image_size")
DROPOUT_RATE = 0.0


class ImagenetVitWorkload(ImagenetWorkload):
    MODEL_OPTIONS = MODEL_OPTIONS

    def __init__(self, meta: Any, data_mode: str = "real", max_eval_examples: int | None = None,
                 **options: Any) -> None:
        super().__init__(meta, data_mode, max_eval_examples, **options)
        cfg = self.model_config
        if self.image_size % int(cfg["patch_size"]):
            raise ValueError(f"workload {meta.name!r}: image_size {self.image_size} is not a "
                             f"multiple of patch_size {cfg['patch_size']}.")
        if int(cfg["width"]) % int(cfg["num_heads"]) or int(cfg["width"]) % 4:
            raise ValueError(f"workload {meta.name!r}: width {cfg['width']} must be a multiple "
                             f"of num_heads ({cfg['num_heads']}) and of 4.")

    def _pipeline_extras(self) -> dict[str, Any]:
        return input_pipeline.train_augmentation()

    def _dropout(self, dropout_rate: float | None) -> Any:
        """The call's rate, else the one given at init, else the default (0.0)."""
        if dropout_rate is not None:
            return dropout_rate
        return getattr(self, "_dropout_rate", DROPOUT_RATE)
