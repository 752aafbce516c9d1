"""imagenet_resnet in PyTorch: the four ResNet-50 workloads (variant from metadata).

Params are the ``nn.Module`` (DDP-wrapped when ``torch.distributed`` is
initialised); batch-norm buffers live in it, so ``model_state`` is ``None``
as in the reference. In TRAIN mode batch statistics normalise and running
statistics move only if ``update_batch_norm`` (via
:func:`algoperf_ray.compat.pytorch_utils.update_batch_norm_fn`, as the
reference does). Host batches are NHWC; they reach the model as NCHW.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils, pytorch_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_resnet.imagenet_resnet_jax import MODEL_OPTIONS
from algoperf_ray.workloads.imagenet_resnet.models_torch import ResNet
from algoperf_ray.workloads.imagenet_resnet.workload import ImagenetWorkload


class ImagenetTorchMixin:
    """PyTorch pieces shared by the ResNet and ViT leaves."""

    framework = "pytorch"

    def _xp(self) -> Any:
        return torch

    def _per_example_loss(self, labels: Any, logits: Any, label_smoothing: float) -> Any:
        """Cross entropy on class ids, or on soft (mixup) targets of the logits' shape."""
        if labels.ndim != logits.ndim:
            labels = labels.long()
        return F.cross_entropy(logits, labels, reduction="none", label_smoothing=label_smoothing)

    def _to_device(self, batch: dict, train: bool) -> dict[str, Any]:
        out = self.placement.put(batch, train)
        if out["inputs"].ndim == 4:  # NHWC host layout -> PyTorch's NCHW, once, on device
            out["inputs"] = out["inputs"].permute(0, 3, 1, 2).contiguous()
        return out

    def _place_model(self, model: nn.Module) -> nn.Module:
        """Record param shapes/types, then device and DDP through the placement."""
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model)


class ImagenetResNetTorchWorkload(ImagenetTorchMixin, ImagenetWorkload):
    MODEL_OPTIONS = MODEL_OPTIONS

    def build_model(self) -> ResNet:
        cfg = self.model_config
        return ResNet(stage_sizes=tuple(cfg["stage_sizes"]), num_classes=self.num_classes,
                      num_filters=int(cfg["num_filters"]), activation=cfg["activation"],
                      bn_init_scale=float(cfg["bn_init_scale"]))

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del dropout_rate, aux_dropout_rate  # the ResNet has no dropout
        torch.manual_seed(rng_lib.to_seed(rng))
        return self._place_model(self.build_model()), None

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        return param_key in ("fc.weight", "fc.bias")

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, rng, dropout_rate
        model = params
        train = mode == spec.ForwardPassMode.TRAIN
        if not train and update_batch_norm:
            raise ValueError("imagenet_resnet: batch-norm statistics cannot be updated in "
                             "EVAL mode; pass update_batch_norm=False.")
        model.train(train)
        if train:
            model.apply(functools.partial(pytorch_utils.update_batch_norm_fn,
                                          update_batch_norm=update_batch_norm))
        with contextlib.nullcontext() if train else torch.no_grad():
            logits = model(augmented_and_preprocessed_input_batch["inputs"])
        return logits, None
