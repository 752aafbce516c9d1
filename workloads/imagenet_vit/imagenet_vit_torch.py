"""imagenet_vit in PyTorch: the four ViT-S/16 workloads (variant from metadata).

Params are the ``nn.Module`` (DDP-wrapped when distributed); no model
state. Dropout is drawn from PyTorch's global RNG at the call's rate.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from algoperf_ray import spec
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_resnet.imagenet_resnet_torch import ImagenetTorchMixin
from algoperf_ray.workloads.imagenet_vit.models_torch import ViT
from algoperf_ray.workloads.imagenet_vit.workload import ImagenetVitWorkload


class ImagenetVitTorchWorkload(ImagenetTorchMixin, ImagenetVitWorkload):

    def build_model(self) -> ViT:
        cfg = self.model_config
        patch = int(cfg["patch_size"])
        return ViT(num_classes=self.num_classes, patch_size=(patch, patch),
                   width=int(cfg["width"]), depth=int(cfg["depth"]), mlp_dim=int(cfg["mlp_dim"]),
                   num_heads=int(cfg["num_heads"]), use_glu=bool(cfg["use_glu"]),
                   use_post_layer_norm=bool(cfg["use_post_layer_norm"]),
                   use_map=bool(cfg["use_map"]))

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # one dropout rate
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        torch.manual_seed(rng_lib.to_seed(rng))
        return self._place_model(self.build_model()), None

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        return param_key in ("head.weight", "head.bias")

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, rng, update_batch_norm  # global torch RNG; no batch norm
        model = params
        train = mode == spec.ForwardPassMode.TRAIN
        model.train(train)
        with contextlib.nullcontext() if train else torch.no_grad():
            logits = model(augmented_and_preprocessed_input_batch["inputs"],
                           dropout_rate=self._dropout(dropout_rate))
        return logits, None
