"""SGD with heavy-ball momentum, linear warmup then linear decay, in JAX (optax.sgd).

L2 weight decay is added to the gradient before the momentum buffer, as
torch.optim.SGD does in the PyTorch twin; momentum = 1 - one_minus_beta1.
The LR decays linearly to end_factor x LR at decay_steps_factor x step_hint.
``hyperparameters=None`` (self-tuning) uses FIXED_POINT.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from algoperf_ray import spec
from algoperf_ray.submissions._shared import common, train_jax

FIXED_POINT = common.FIXED_POINTS["sgd_momentum"]


def make_optimizer(hp: dict, step_hint: int) -> optax.GradientTransformation:
    lr = train_jax.lr_schedule(hp["learning_rate"], common.schedule_fn(hp, step_hint, jnp))
    return optax.chain(optax.add_decayed_weights(hp["weight_decay"]),
                       optax.sgd(lr, momentum=1.0 - hp["one_minus_beta1"], nesterov=False))


def init_optimizer_state(workload: spec.Workload, model_params: spec.ParameterContainer,
                         model_state: spec.ModelAuxiliaryState,
                         hyperparameters: spec.Hyperparameters,
                         rng: spec.RandomState) -> spec.OptimizerState:
    hp = common.resolve_hparams(hyperparameters, FIXED_POINT)
    tx = make_optimizer(hp, workload.step_hint)
    return train_jax.init_optimizer_state(workload, model_params, tx, hp)


update_params = train_jax.update_params
prepare_for_eval = train_jax.prepare_for_eval
data_selection = common.data_selection
get_batch_size = common.get_batch_size

