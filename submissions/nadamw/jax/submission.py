"""NAdamW with linear warmup + cosine decay, in JAX (optax).

NAdam here is Adam with a Nesterov look-ahead on the first moment and the
standard Adam bias corrections (Table 1 of arXiv:1910.05446, the variant the
AlgoPerf baseline uses), with decoupled weight decay scaled by the learning
rate. The PyTorch twin implements the same update, so both frameworks
follow the same trajectory. With ``hyperparameters=None`` (self-tuning) the
fixed point :data:`FIXED_POINT` is used.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from algoperf_ray import spec
from algoperf_ray.submissions._shared import common, train_jax

FIXED_POINT = common.FIXED_POINTS["nadamw"]


class NadamState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_nadam(b1: float, b2: float, eps: float = 1e-8) -> optax.GradientTransformation:
    """NAdam direction: Nesterov first moment over the bias-corrected RMS."""

    def init(params: optax.Params) -> NadamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return NadamState(jnp.zeros([], jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))

    def update(grads: optax.Updates, state: NadamState, params: Any = None):
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
        c1 = 1 - b1 ** count.astype(jnp.float32)
        c2 = 1 - b2 ** count.astype(jnp.float32)
        direction = jax.tree.map(
            lambda m, v, g: ((b1 * m + (1 - b1) * g) / c1) / (jnp.sqrt(v / c2) + eps),
            mu, nu, grads)
        return direction, NadamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


def nadamw(hp: dict[str, Any], step_hint: int) -> optax.GradientTransformation:
    lr = train_jax.lr_schedule(hp["learning_rate"], common.schedule_fn(hp, step_hint, jnp))
    return optax.chain(
        scale_by_nadam(1.0 - hp["one_minus_beta1"], hp["beta2"]),
        optax.add_decayed_weights(hp["weight_decay"]),
        optax.scale_by_learning_rate(lr))


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState,
                         hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    hp = common.resolve_hparams(hyperparameters, FIXED_POINT)
    return train_jax.init_optimizer_state(workload, model_params, nadamw(hp, workload.step_hint),
                                          hp)


update_params = train_jax.update_params
prepare_for_eval = train_jax.prepare_for_eval
data_selection = common.data_selection
get_batch_size = common.get_batch_size
