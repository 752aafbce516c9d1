"""fastMRI in PyTorch: the four U-Net workloads (variant from metadata).

Params are the ``nn.Module`` (DDP-wrapped when ``torch.distributed`` is
initialised); the U-Net has no model state. Batches hold ``(N, H, W)``
images; the model sees ``(N, 1, H, W)`` and its output is squeezed back, as
in the reference. Dropout (``dropout2d``) runs at the call-time rate;
``init_model_fn``'s ``dropout_rate`` is the default when ``model_fn`` gets none.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.placement_torch import ddp_info
from algoperf_ray.workloads.fastmri.models_torch import DROPOUT_RATE, UNet
from algoperf_ray.workloads.fastmri.workload import FastMRIWorkload


class FastMRITorchWorkload(FastMRIWorkload):
    """All four fastMRI workloads in PyTorch."""

    framework = "pytorch"

    def _xp(self) -> Any:
        return torch

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # the U-Net has one dropout rate
        torch.manual_seed(rng_lib.to_seed(rng))
        self._dropout_rate = DROPOUT_RATE if dropout_rate is None else dropout_rate
        model = UNet(**self.model_config)
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        if next(model.parameters()).device.type == "meta":
            return model, None  # shape-only construction (describe)
        device = self.placement.device
        model.to(device)
        if ddp_info()[0]:
            ids = [device.index] if device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model, None

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        last = self.model_config["num_pool_layers"] - 1
        return param_key in (f"up_conv.{last}.1.weight", f"up_conv.{last}.1.bias")

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, rng, update_batch_norm  # torch's RNG drives dropout; no batch norm
        train = mode == spec.ForwardPassMode.TRAIN
        rate = getattr(self, "_dropout_rate", DROPOUT_RATE) if dropout_rate is None \
            else dropout_rate
        params.train(train)
        inputs = augmented_and_preprocessed_input_batch["inputs"]
        with contextlib.nullcontext() if train else torch.no_grad():
            outputs = params(inputs.unsqueeze(1), dropout_rate=rate).squeeze(1)
        return outputs, None
