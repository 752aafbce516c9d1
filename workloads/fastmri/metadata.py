"""Benchmark facts for the fastmri family (current AlgoPerf version, v0.6).

Knee single-coil MRI reconstruction with a U-Net: the input is the
magnitude image of 4x-undersampled k-space (zero-filled), the target the
fully sampled reconstruction, both 320x320 and normalised by the input's
mean and std. The metric is SSIM on the de-normalised images, with the
volume's maximum as the data range (``metrics.py``). Targets, budgets and
example counts are the reference's (``algoperf/workloads/fastmri``); the
three variants share the base workload's budget and step hint.
"""

from __future__ import annotations

import dataclasses
import math

from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.spec import LossType

IMAGE_SIZE = 320

# Architecture of the base U-Net (reference defaults).
BASE_MODEL = {"num_channels": 32, "num_pool_layers": 4, "use_tanh": False,
              "use_layer_norm": False}

BATCH_FIELDS = {
    "inputs": BatchField((IMAGE_SIZE, IMAGE_SIZE), "float32"),
    "targets": BatchField((IMAGE_SIZE, IMAGE_SIZE), "float32"),
    "mean": BatchField((), "float32"),
    "std": BatchField((), "float32"),
    "volume_max": BatchField((), "float32"),
}

_VALIDATION_EXAMPLES = 3554
_EVAL_BATCH = 256


def num_params(num_channels: int, num_pool_layers: int, use_layer_norm: bool,
               **_: object) -> int:
    """Parameter count of the reference U-Net, from its layer sizes.

    Convs have no bias except the 1x1 output conv; a conv block is two 3x3
    convs, plus a per-channel scale and bias after each in the layer-norm
    variant (instance norm has no parameters); an up block is one 2x2
    transposed conv.
    """
    def block(c_in: int, c_out: int) -> int:
        return 9 * c_in * c_out + 9 * c_out * c_out + (4 * c_out if use_layer_norm else 0)

    ch = num_channels
    total = block(1, ch)
    for _ in range(num_pool_layers - 1):
        total += block(ch, 2 * ch)
        ch *= 2
    total += block(ch, 2 * ch)
    for _ in range(num_pool_layers):
        total += 4 * (2 * ch) * ch + block(2 * ch, ch)
        ch //= 2
    return total + num_channels + 1  # the 1x1 output conv, with bias


_BASE = WorkloadMeta(
    name="fastmri",
    family="fastmri",
    target_metric_name="ssim",
    validation_target=0.723653,
    test_target=0.740633,
    max_runtime_sec=4430,
    eval_period_sec=80,
    step_hint=18094,
    loss_type=LossType.MEAN_ABSOLUTE_ERROR,
    num_train_examples=34742,
    # The reference rounds the validation count up to whole eval batches.
    num_eval_train_examples=math.ceil(_VALIDATION_EXAMPLES / _EVAL_BATCH) * _EVAL_BATCH,
    num_validation_examples=_VALIDATION_EXAMPLES,
    num_test_examples=3581,
    eval_batch_size=_EVAL_BATCH,
    jax_class="algoperf_ray.workloads.fastmri.fastmri_jax:FastMRIJaxWorkload",
    torch_class="algoperf_ray.workloads.fastmri.fastmri_torch:FastMRITorchWorkload",
    batch_fields=BATCH_FIELDS,
    num_params=num_params(**BASE_MODEL),
    model_kwargs=BASE_MODEL,
    description="U-Net (32 channels, 4 pooling layers, instance norm, leaky ReLU) "
                "on fastMRI knee single-coil, 4x acceleration.",
)


def _variant(name: str, val: float, test: float, description: str, **model: object) -> WorkloadMeta:
    kwargs = {**BASE_MODEL, **model}
    return dataclasses.replace(_BASE, name=name, base="fastmri", validation_target=val,
                               test_target=test, model_kwargs=kwargs,
                               num_params=num_params(**kwargs), description=description)


WORKLOADS = [
    _BASE,
    _variant("fastmri_model_size", 0.723559, 0.740726,
             "fastmri with 64 channels and 3 pooling layers.",
             num_channels=64, num_pool_layers=3),
    _variant("fastmri_tanh", 0.717840, 0.734505, "fastmri with tanh activations.",
             use_tanh=True),
    _variant("fastmri_layernorm", 0.723284, 0.739996,
             "fastmri with LayerNorm (per-sample over C, H, W) in the conv blocks.",
             use_layer_norm=True),
]

# Small CPU-sized models (constructor kwargs) for tests and benchmarks. The
# images stay 320x320 (the pipeline's shape); width and depth shrink.
# ``max_eval_examples`` caps each eval split so a CPU smoke run evaluates quickly.
REDUCED_SIZE_KWARGS: dict[str, dict] = {
    "fastmri": {"num_channels": 4, "num_pool_layers": 2, "max_eval_examples": 8},
    "fastmri_model_size": {"num_channels": 8, "num_pool_layers": 1, "max_eval_examples": 8},
    "fastmri_tanh": {"num_channels": 4, "num_pool_layers": 2, "max_eval_examples": 8},
    "fastmri_layernorm": {"num_channels": 4, "num_pool_layers": 2, "max_eval_examples": 8},
}
