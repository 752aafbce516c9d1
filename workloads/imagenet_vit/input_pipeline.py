"""ViT data: the ImageNet pipeline plus RandAugment and mixup on the train split.

The reads, crops, normalisation and eval passes are those of
:mod:`algoperf_ray.workloads.imagenet_resnet.input_pipeline` (the reference's
ViT workload also reuses the ResNet pipeline); as in the reference, only the
train split gets RandAugment (:mod:`.randaugment`) and batch mixup.
"""

from __future__ import annotations

from typing import Any

from algoperf_ray.workloads.imagenet_vit.metadata import (
    MIXUP_ALPHA,
    RANDAUG_LAYERS,
    RANDAUG_MAGNITUDE,
)


def train_augmentation() -> dict[str, Any]:
    """Extra :class:`~algoperf_ray.workloads.imagenet_resnet.input_pipeline.ImagenetConfig`
    fields of the ViT (applied to training batches only)."""
    return {"randaug_layers": RANDAUG_LAYERS, "randaug_magnitude": RANDAUG_MAGNITUDE,
            "mixup_alpha": MIXUP_ALPHA}
