"""One training step shared by the PyTorch baselines (single process or DDP).

Under DDP each process holds its shard of the global batch. The summed loss
and the number of valid examples are all-reduced with the autograd-aware
``torch.distributed.nn.all_reduce`` before dividing, so every rank
back-propagates the loss of the whole global batch, exactly as one process
would. A baseline only supplies its ``torch.optim`` optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from algoperf_ray import spec
from algoperf_ray.submissions._shared.common import resolve_hparams, schedule_fn


def _ddp() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_optimizer_state(workload: spec.Workload, optimizer: torch.optim.Optimizer,
                         hp: Mapping[str, Any]) -> dict[str, Any]:
    """``{'optimizer', 'scheduler'}`` with the baseline's LR schedule over ``step_hint``."""
    factor = schedule_fn(hp, workload.step_hint, np)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: float(factor(step)))
    return {"optimizer": optimizer, "scheduler": scheduler}


def _global_mean_loss(summed: Any, n_valid: Any) -> torch.Tensor:
    if not torch.is_tensor(n_valid):
        n_valid = torch.as_tensor(n_valid, dtype=summed.dtype, device=summed.device)
    if _ddp():
        import torch.distributed.nn as dist_nn

        summed = dist_nn.all_reduce(summed)
        n_valid = dist_nn.all_reduce(n_valid)
    return summed / n_valid


def update_params(workload: spec.Workload, current_param_container: Any,
                  current_params_types: Any, model_state: Any, hyperparameters: Any,
                  batch: dict[str, Any], loss_type: spec.LossType, optimizer_state: Any,
                  eval_results: Any, global_step: int, rng: Any, train_state: Any = None,
                  *, fixed_point: Mapping[str, Any]) -> spec.UpdateReturn:
    """Forward, global-mean loss, backward, optional clipping, optimizer + LR step."""
    hp = resolve_hparams(hyperparameters, fixed_point)
    model = current_param_container
    model.train()
    optimizer = optimizer_state["optimizer"]
    optimizer.zero_grad(set_to_none=True)
    extra = {"dropout_rate": hp["dropout_rate"]} if hp.get("dropout_rate") is not None else {}
    logits, new_model_state = workload.model_fn(
        params=model, augmented_and_preprocessed_input_batch=batch, model_state=model_state,
        mode=spec.ForwardPassMode.TRAIN, rng=rng, update_batch_norm=True, **extra)
    losses = workload.loss_fn(label_batch=batch["targets"], logits_batch=logits,
                              mask_batch=batch.get("weights"),
                              label_smoothing=float(hp.get("label_smoothing", 0.0)))
    loss = _global_mean_loss(losses["summed"], losses["n_valid_examples"])
    loss.backward()
    if hp.get("grad_clip") is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=float(hp["grad_clip"]))
    optimizer.step()
    optimizer_state["scheduler"].step()
    if workload.metrics_logger is not None and global_step % 100 == 0:
        workload.metrics_logger.append_scalar_metrics({"loss": float(loss.detach())}, global_step)
    return optimizer_state, current_param_container, new_model_state


def prepare_for_eval(workload: spec.Workload, current_param_container: Any,
                     current_params_types: Any, model_state: Any, hyperparameters: Any,
                     loss_type: spec.LossType, optimizer_state: Any, eval_results: Any,
                     global_step: int, rng: Any) -> spec.UpdateReturn:
    """Evaluate the current parameters as they are."""
    return optimizer_state, current_param_container, model_state
