"""Benchmark facts for the imagenet_vit family (current AlgoPerf version, v0.6).

ViT-S/16 on ImageNet-2012 (validation) and ImageNet-v2 matched-frequency
(test), trained with mixup (alpha 0.2) and RandAugment (2 layers, magnitude
10) as the reference does, plus three architecture variants (a gated MLP,
post-LayerNorm blocks, attention pooling). Targets, budgets, eval period,
step hint and batch sizes are the reference's
(``algoperf/workloads/imagenet_vit``); variants share the base's budget.
"""

from __future__ import annotations

import dataclasses
import math

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.spec import LossType
from algoperf_ray.workloads.imagenet_resnet import metadata as resnet_meta

NUM_CLASSES = resnet_meta.NUM_CLASSES
EVAL_BATCH_SIZE = 2048
MIXUP_ALPHA = 0.2
RANDAUG_LAYERS = 2
RANDAUG_MAGNITUDE = 10

# ViT-S/16 (the reference's ``decode_variant('S/16')``).
BASE_MODEL = {"width": 384, "depth": 12, "mlp_dim": 1536, "num_heads": 6, "patch_size": 16,
              "use_glu": False, "use_post_layer_norm": False, "use_map": False,
              "image_size": resnet_meta.IMAGE_SIZE}


def num_params(width: int, depth: int, mlp_dim: int, patch_size: int, use_glu: bool,
               use_post_layer_norm: bool, use_map: bool, num_classes: int = NUM_CLASSES,
               **_: object) -> int:
    """Parameter count of the ViT, from its layer sizes (all dense layers have biases)."""
    def mlp(glu: bool) -> int:
        return (width * mlp_dim + mlp_dim) + (mlp_dim * width + width) + \
            (mlp_dim * mlp_dim + mlp_dim if glu else 0)

    attention = 4 * (width * width + width)  # q, k, v, out
    block = 2 * (2 * width) + attention + mlp(use_glu)  # two LayerNorms
    total = 3 * patch_size**2 * width + width  # patch conv
    total += depth * block + (0 if use_post_layer_norm else 2 * width)
    if use_map:  # probe, attention, LayerNorm, plain MLP
        total += width + attention + 2 * width + mlp(False)
    total += width * width + width  # pre_logits
    return total + width * num_classes + num_classes


_BASE = WorkloadMeta(
    name="imagenet_vit",
    family="imagenet_vit",
    target_metric_name="accuracy",
    validation_target=0.77309,
    test_target=0.6519,
    max_runtime_sec=69_768,
    eval_period_sec=420,
    step_hint=167_999,
    loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
    num_train_examples=1_281_167,
    num_eval_train_examples=math.ceil(resnet_meta.NUM_VALIDATION / EVAL_BATCH_SIZE)
    * EVAL_BATCH_SIZE,
    num_validation_examples=resnet_meta.NUM_VALIDATION,
    num_test_examples=10_000,  # ImageNet-v2 matched frequency
    eval_batch_size=EVAL_BATCH_SIZE,
    jax_class="algoperf_ray.workloads.imagenet_vit.imagenet_vit_jax:ImagenetVitJaxWorkload",
    torch_class="algoperf_ray.workloads.imagenet_vit.imagenet_vit_torch:ImagenetVitTorchWorkload",
    batch_fields=resnet_meta.batch_fields(resnet_meta.IMAGE_SIZE),
    num_params=num_params(**BASE_MODEL),
    train_mean=resnet_meta.TRAIN_MEAN,
    train_stddev=resnet_meta.TRAIN_STDDEV,
    model_kwargs=BASE_MODEL,
    description="ViT-S/16 on ImageNet-2012 with mixup and RandAugment; test on ImageNet-v2.",
)


def _variant(name: str, val: float, test: float, description: str, **model: object) -> WorkloadMeta:
    kwargs = {**BASE_MODEL, **model}
    return dataclasses.replace(_BASE, name=name, base="imagenet_vit", validation_target=val,
                               test_target=test, model_kwargs=kwargs,
                               num_params=num_params(**kwargs), description=description)


WORKLOADS = [
    _BASE,
    _variant("imagenet_vit_glu", 0.75738, 0.6359, "imagenet_vit with a gated (GLU) MLP.",
             use_glu=True),
    _variant("imagenet_vit_post_ln", 0.75312, 0.6286,
             "imagenet_vit with LayerNorm after each residual sum.", use_post_layer_norm=True),
    _variant("imagenet_vit_map", 0.77113, 0.6523,
             "imagenet_vit with multi-head attention pooling.", use_map=True),
]

# Small CPU-sized models for tests and benchmarks: width 32, 2 blocks,
# 4 heads, 8x8 patches of 32x32 images (16 tokens); evals capped at 256
# examples per split.
_REDUCED = {"width": 32, "depth": 2, "mlp_dim": 64, "num_heads": 4, "patch_size": 8,
            "image_size": 32, "max_eval_examples": 256}
REDUCED_SIZE_KWARGS: dict[str, dict] = {w.name: dict(_REDUCED) for w in WORKLOADS}
