"""One jitted training step shared by the JAX baselines.

Params and optimizer state are replicated over all local devices and the
global batch is sharded along its first axis (``algoperf.jax_sharding_utils``
conventions), so XLA inserts the gradient all-reduce. A baseline only
supplies its optax transformation. As in the reference baselines, the
optimizer state is the pair ``(optax state, update function)``; only its
arrays are checkpointed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from algoperf_ray import spec
from algoperf_ray.workload import sharding_jax as jax_sharding_utils

_GRAD_CLIP_EPS = 1e-6


def _train_step(workload: spec.Workload, tx: optax.GradientTransformation,
                hp: Mapping[str, Any]) -> Any:
    label_smoothing = float(hp.get("label_smoothing", 0.0))
    grad_clip = hp.get("grad_clip")
    dropout_rate = hp.get("dropout_rate")

    def step(params, model_state, opt_state, batch, rng):
        def loss_of(p):
            logits, new_state = workload.model_fn(
                p, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
                update_batch_norm=True, dropout_rate=dropout_rate)
            losses = workload.loss_fn(label_batch=batch["targets"], logits_batch=logits,
                                      mask_batch=batch.get("weights"),
                                      label_smoothing=label_smoothing)
            return losses["summed"] / losses["n_valid_examples"], new_state

        (loss, new_state), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
        grad_norm = optax.global_norm(grads)
        if grad_clip is not None:
            factor = jnp.minimum(1.0, grad_clip / (grad_norm + _GRAD_CLIP_EPS))
            grads = jax.tree.map(lambda g: g * factor, grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, loss, grad_norm

    rep = jax_sharding_utils.get_replicate_sharding()
    batch_sharded = jax_sharding_utils.get_batch_dim_sharding()
    donate = () if jax.default_backend() == "cpu" else (0, 2)  # CPU cannot donate buffers
    return jax.jit(step, in_shardings=(rep, rep, rep, batch_sharded, rep),
                   out_shardings=(rep, rep, rep, rep, rep), donate_argnums=donate)


def init_optimizer_state(workload: spec.Workload, model_params: Any,
                         tx: optax.GradientTransformation,
                         hp: Mapping[str, Any]) -> tuple[Any, Any]:
    """(replicated optax state, jitted train step) for ``tx`` and resolved hparams ``hp``."""
    opt_state = jax_sharding_utils.replicate(tx.init(model_params))
    return opt_state, _train_step(workload, tx, hp)


def update_params(workload: spec.Workload, current_param_container: Any,
                  current_params_types: Any, model_state: Any, hyperparameters: Any,
                  batch: dict[str, Any], loss_type: spec.LossType, optimizer_state: Any,
                  eval_results: Any, global_step: int, rng: Any,
                  train_state: Any = None) -> spec.UpdateReturn:
    """One optimizer step; logs loss and grad norm every 100 steps if a logger is set."""
    opt_state, train_step = optimizer_state
    params, model_state, opt_state, loss, grad_norm = train_step(
        current_param_container, model_state, opt_state, batch, rng)
    if workload.metrics_logger is not None and global_step % 100 == 0:
        workload.metrics_logger.append_scalar_metrics(
            {"loss": float(loss), "grad_norm": float(grad_norm)}, global_step)
    return (opt_state, train_step), params, model_state


def prepare_for_eval(workload: spec.Workload, current_param_container: Any,
                     current_params_types: Any, model_state: Any, hyperparameters: Any,
                     loss_type: spec.LossType, optimizer_state: Any, eval_results: Any,
                     global_step: int, rng: Any) -> spec.UpdateReturn:
    """Evaluate the current parameters as they are."""
    return optimizer_state, current_param_container, model_state


def lr_schedule(base_lr: float, factor_fn: Any) -> Any:
    """An optax schedule ``base_lr * factor_fn(count)``."""
    return lambda count: base_lr * factor_fn(count)
