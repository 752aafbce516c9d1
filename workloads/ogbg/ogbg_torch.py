"""ogbg in PyTorch: the GNN of ``models_torch`` behind the AlgoPerf workload API.

Params are the ``nn.Module`` (DDP-wrapped when torch.distributed is
initialised); the placement gives each rank its graphs and gathers the eval
predictions, so this leaf has no distributed code of its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.ogbg import models_torch
from algoperf_ray.workloads.ogbg.workload import OgbgWorkload


class OgbgTorchWorkload(OgbgWorkload):
    """All four ogbg workloads in PyTorch."""

    framework = "pytorch"

    def _xp(self) -> Any:
        return torch

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # the GNN has one dropout rate
        torch.manual_seed(rng_lib.to_seed(rng))
        cfg = self.model_config
        self._dropout_rate = self._rate(dropout_rate)
        model = models_torch.GNN(num_outputs=self._num_outputs, activation=cfg["activation"],
                                 latent_dim=cfg["latent_dim"], hidden_dims=cfg["hidden_dims"],
                                 num_message_passing_steps=cfg["num_message_passing_steps"])
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        return param_key in ("decoder.weight", "decoder.bias")

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del rng, update_batch_norm  # torch's global RNG drives dropout; no batch norm
        if model_state is not None:
            raise ValueError(f"ogbg has no model state; got {type(model_state).__name__}.")
        train = mode == spec.ForwardPassMode.TRAIN
        params.train(train)
        with torch.set_grad_enabled(train and torch.is_grad_enabled()):
            logits = params(augmented_and_preprocessed_input_batch["inputs"],
                            dropout_rate=self._rate(dropout_rate))
        return logits, None
