"""Benchmark facts for the imagenet_resnet family (current AlgoPerf version, v0.6).

ResNet-50 on ImageNet-2012 (validation) and ImageNet-v2 matched-frequency
(test), plus three variants that change only the activation or the initial
scale of each residual branch's last batch norm. Targets, budgets, eval
period, step hint and batch sizes are the reference's
(``algoperf/workloads/imagenet_resnet``); variants share the base's budget
and step hint. ``num_eval_train_examples`` is the validation size rounded up
to a multiple of the eval batch size, as the reference computes it.
"""

from __future__ import annotations

import dataclasses
import math

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

NUM_CLASSES = 1000
IMAGE_SIZE = 224  # train crop and eval center crop
RESIZE_SIZE = 256  # eval: the crop is image_size/resize_size of the shorter side
# Per-channel statistics of the ImageNet train set, on the 0..255 scale.
TRAIN_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
TRAIN_STDDEV = (0.229 * 255, 0.224 * 255, 0.225 * 255)
NUM_VALIDATION = 50_000
EVAL_BATCH_SIZE = 1024

# Architecture of the base model (the reference's ResNet-50).
BASE_MODEL = {"activation": "relu", "bn_init_scale": 0.0, "num_filters": 64,
              "stage_sizes": (3, 4, 6, 3), "image_size": IMAGE_SIZE}


def batch_fields(image_size: int) -> dict[str, BatchField]:
    """A training batch: NHWC float32 images and integer class labels."""
    return {"inputs": BatchField((image_size, image_size, 3), "float32"),
            "targets": BatchField((), "int32", high=NUM_CLASSES)}


def num_params(num_filters: int, stage_sizes: tuple[int, ...], num_classes: int = NUM_CLASSES,
               **_: object) -> int:
    """Parameter count of the bottleneck ResNet, from its layer sizes.

    Convs have no bias; every conv is followed by a batch norm (scale and
    bias); the first block of each stage has a 1x1 projection shortcut (its
    input width differs from the block's 4x output width).
    """
    total = 3 * num_filters * 49 + 2 * num_filters  # stem conv + batch norm
    cin = num_filters
    for i, blocks in enumerate(stage_sizes):
        width = num_filters * 2**i
        cout = 4 * width
        for j in range(blocks):
            total += cin * width + 9 * width * width + width * cout  # 1x1, 3x3, 1x1
            total += 2 * (2 * width + cout)  # their batch norms
            if j == 0:
                total += cin * cout + 2 * cout  # projection conv + batch norm
            cin = cout
    return total + cin * num_classes + num_classes


_BASE = WorkloadMeta(
    name="imagenet_resnet",
    family="imagenet_resnet",
    target_metric_name="accuracy",
    validation_target=0.77431,
    test_target=0.6560,
    max_runtime_sec=66_159,
    eval_period_sec=510,
    step_hint=195_999,
    loss_type=LossType.SOFTMAX_CROSS_ENTROPY,
    num_train_examples=1_281_167,
    num_eval_train_examples=math.ceil(NUM_VALIDATION / EVAL_BATCH_SIZE) * EVAL_BATCH_SIZE,
    num_validation_examples=NUM_VALIDATION,
    num_test_examples=10_000,  # ImageNet-v2 matched frequency
    eval_batch_size=EVAL_BATCH_SIZE,
    jax_class="algoperf_ray.workloads.imagenet_resnet.imagenet_resnet_jax:ImagenetResNetJaxWorkload",
    torch_class=("algoperf_ray.workloads.imagenet_resnet.imagenet_resnet_torch:"
                 "ImagenetResNetTorchWorkload"),
    batch_fields=batch_fields(IMAGE_SIZE),
    num_params=num_params(**BASE_MODEL),
    train_mean=TRAIN_MEAN,
    train_stddev=TRAIN_STDDEV,
    model_kwargs=BASE_MODEL,
    description="ResNet-50 (v1.5) on ImageNet-2012, 224x224 random-resized crops + flips; "
                "test on ImageNet-v2.",
)


def _variant(name: str, val: float, test: float, description: str, **model: object) -> WorkloadMeta:
    return dataclasses.replace(_BASE, name=name, base="imagenet_resnet", validation_target=val,
                               test_target=test, model_kwargs={**BASE_MODEL, **model},
                               description=description)


WORKLOADS = [
    _BASE,
    _variant("imagenet_resnet_silu", 0.75445, 0.6323, "imagenet_resnet with SiLU activations.",
             activation="silu"),
    _variant("imagenet_resnet_gelu", 0.76765, 0.6519,
             "imagenet_resnet with GELU (tanh approximation) activations.", activation="gelu"),
    _variant("imagenet_resnet_large_bn_init", 0.76526, 0.6423,
             "imagenet_resnet with each residual branch's last batch-norm scale "
             "initialised to 8.", bn_init_scale=8.0),
]

# Small CPU-sized models (constructor kwargs) for tests and benchmarks:
# 8 base filters, one block per stage, 32x32 images (~0.39M parameters, most
# of them in the 1000-way head), and evals capped at 256 examples per split.
_REDUCED = {"num_filters": 8, "stage_sizes": (1, 1, 1, 1), "image_size": 32,
            "max_eval_examples": 256}
REDUCED_SIZE_KWARGS: dict[str, dict] = {w.name: dict(_REDUCED) for w in WORKLOADS}
