"""NAdamW with linear warmup + cosine decay, in PyTorch (hand-written optimizer).

The same update as the JAX twin (see its docstring): Adam with a Nesterov
look-ahead on the first moment, standard bias corrections, and decoupled
weight decay scaled by the learning rate. ``hyperparameters=None``
(self-tuning) uses :data:`FIXED_POINT`.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from algoperf_ray import spec
from algoperf_ray.submissions._shared import common, train_torch

FIXED_POINT = common.FIXED_POINTS["nadamw"]


class NAdamW(torch.optim.Optimizer):
    """NAdam (Nesterov first moment) with decoupled, LR-scaled weight decay."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid NAdamW settings: lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(group, params)
        return loss

    def _update_group(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """One NAdamW step for a parameter group, with fused multi-tensor ops."""
        b1, b2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = torch.zeros((), dtype=torch.float32)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        states = [self.state[p] for p in params]
        torch._foreach_add_([s["step"] for s in states], 1.0)
        steps = [float(s["step"]) for s in states]
        grads = [p.grad for p in params]
        m, v = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        torch._foreach_lerp_(m, grads, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - b2)
        nesterov = torch._foreach_mul(m, b1)
        torch._foreach_add_(nesterov, grads, alpha=1 - b1)
        denom = torch._foreach_div(v, [1 - b2 ** t for t in steps])
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        torch._foreach_mul_(params, 1 - lr * wd)
        torch._foreach_addcdiv_(params, nesterov, denom, [-lr / (1 - b1 ** t) for t in steps])


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState,
                         hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    hp = common.resolve_hparams(hyperparameters, FIXED_POINT)
    optimizer = NAdamW(model_params.parameters(), lr=hp["learning_rate"],
                       betas=(1.0 - hp["one_minus_beta1"], hp["beta2"]), eps=1e-8,
                       weight_decay=hp["weight_decay"])
    return train_torch.init_optimizer_state(workload, optimizer, hp)


update_params = functools.partial(train_torch.update_params, fixed_point=FIXED_POINT)
prepare_for_eval = train_torch.prepare_for_eval
data_selection = common.data_selection
get_batch_size = common.get_batch_size
