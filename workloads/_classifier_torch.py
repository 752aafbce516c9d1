"""PyTorch leaf base for the softmax-classification dev workloads.

The twin of :mod:`workloads._classifier_jax`: subclasses only build the
``nn.Module``. Params are the module itself (wrapped in DDP when
``torch.distributed`` is initialised); batch-norm buffers live inside it, so
``model_state`` is ``None`` as in the reference PyTorch workloads. Image
inputs arrive as NHWC host arrays (the framework-neutral layout) and are
moved to NCHW here, once, on device.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.metrics import masked_loss_dict


def lecun_normal_(module: nn.Module) -> None:
    """Truncated-normal LeCun init (as Flax's default), zero bias.

    The std is divided by the std of a unit normal truncated to [-2, 2]
    (0.8796...) so the variance after truncation is exactly 1/fan_in.
    """
    fan_in = module.weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


class TorchClassifier:
    """PyTorch leaf code of a classifier family, mixed in before the family class.

    Subclasses set ``output_layer`` and build the module in ``build_model``.
    """

    framework = "pytorch"
    output_layer: tuple[str, ...] = ()  # parameter names of the output layer

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def _to_device(self, batch: dict, train: bool) -> dict[str, Any]:
        out = super()._to_device(batch, train)
        x = out["inputs"]
        if x.ndim == 4:  # NHWC -> NCHW, the PyTorch convention
            out["inputs"] = x.permute(0, 3, 1, 2).contiguous()
        return out

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        del dropout_rate, aux_dropout_rate
        torch.manual_seed(rng_lib.to_seed(rng))
        model = self.build_model()
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        return param_key in self.output_layer

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: Any,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, Any]:
        """Logits. In TRAIN mode without ``update_batch_norm`` BN running stats stay put."""
        del rng, dropout_rate
        model = params
        train = mode == spec.ForwardPassMode.TRAIN
        if not train and update_batch_norm:
            raise ValueError("batch-norm statistics cannot be updated in EVAL mode.")
        model.train(train)
        frozen = _frozen_bn_stats(model) if train and not update_batch_norm \
            else contextlib.nullcontext()
        grad = contextlib.nullcontext() if train else torch.no_grad()
        with frozen, grad:
            logits = model(augmented_and_preprocessed_input_batch["inputs"])
        return logits, model_state

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        per_example = F.cross_entropy(logits_batch, label_batch.long(), reduction="none",
                                      label_smoothing=label_smoothing)
        if mask_batch is not None:
            mask_batch = mask_batch.to(per_example.dtype)
        return masked_loss_dict(per_example, mask_batch, torch)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL, rng,
                                  update_batch_norm=False)
        weights = batch.get("weights")
        if weights is None:
            weights = torch.ones(logits.shape[0], device=logits.device)
        correct = (logits.argmax(dim=-1) == batch["targets"].long()).to(weights.dtype) * weights
        return {"accuracy": correct.sum(),
                "loss": self.loss_fn(batch["targets"], logits, weights)["summed"]}


@contextlib.contextmanager
def _frozen_bn_stats(model: nn.Module):
    """Use batch statistics but leave running stats unchanged (momentum 0)."""
    saved = [(m, m.momentum) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m, _ in saved:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in saved:
            m.momentum = momentum
