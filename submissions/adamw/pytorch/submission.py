"""AdamW with linear warmup + cosine decay, in PyTorch (torch.optim.AdamW).

``hyperparameters=None`` (self-tuning) uses FIXED_POINT.
"""

from __future__ import annotations

import functools

import torch

from algoperf_ray import spec
from algoperf_ray.submissions._shared import common, train_torch

FIXED_POINT = common.FIXED_POINTS["adamw"]


def make_optimizer(model: torch.nn.Module, hp: dict) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=hp["learning_rate"],
                             betas=(1.0 - hp["one_minus_beta1"], hp["beta2"]), eps=1e-8,
                             weight_decay=hp["weight_decay"])


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState,
                         hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    hp = common.resolve_hparams(hyperparameters, FIXED_POINT)
    return train_torch.init_optimizer_state(workload, make_optimizer(model_params, hp), hp)


update_params = functools.partial(train_torch.update_params, fixed_point=FIXED_POINT)
prepare_for_eval = train_torch.prepare_for_eval
data_selection = common.data_selection
get_batch_size = common.get_batch_size

