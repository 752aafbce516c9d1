# ruff: noqa  (written in the public AlgoPerf style on purpose)
"""A public-style JAX Adam submission for fastmri (test fixture).

Imports only ``algoperf.*`` (resolved by algoperf_ray.compat), jits its step
with the jax_sharding_utils shardings, and passes the dropout rate from its
hyperparameters into ``model_fn`` as a traced argument, like the public
baselines do.
"""

import jax
import optax

from algoperf import jax_sharding_utils, spec


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  tx = optax.adam(hyperparameters.learning_rate)
  return jax_sharding_utils.replicate(tx.init(model_params)), tx.update


def _step(workload, opt_update_fn, opt_state, params, batch, rng, dropout_rate):

  def loss_fn(p):
    outputs, _ = workload.model_fn(p, batch, None, spec.ForwardPassMode.TRAIN, rng,
                                   update_batch_norm=False, dropout_rate=dropout_rate)
    d = workload.loss_fn(batch['targets'], outputs, batch.get('weights'))
    return d['summed'] / d['n_valid_examples']

  loss, grads = jax.value_and_grad(loss_fn)(params)
  updates, opt_state = opt_update_fn(grads, opt_state, params)
  return opt_state, optax.apply_updates(params, updates), loss


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
  assert loss_type == spec.LossType.MEAN_ABSOLUTE_ERROR
  opt_state, opt_update_fn = optimizer_state
  replicated = jax_sharding_utils.get_replicate_sharding()
  sharded = jax_sharding_utils.get_batch_dim_sharding()
  step = jax.jit(_step, static_argnums=(0, 1),
                 in_shardings=(replicated, replicated, sharded, replicated, replicated),
                 out_shardings=(replicated, replicated, replicated))
  opt_state, params, loss = step(workload, opt_update_fn, opt_state, current_param_container,
                                 batch, rng, hyperparameters.dropout_rate)
  return (opt_state, opt_update_fn), params, model_state


def prepare_for_eval(workload, current_param_container, current_params_types, model_state,
                     hyperparameters, loss_type, optimizer_state, eval_results, global_step,
                     rng):
  return optimizer_state, current_param_container, model_state


def get_batch_size(workload_name):
  if workload_name.startswith('fastmri'):
    return 8
  raise ValueError(f'Unsupported workload name: {workload_name}.')


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
  return next(input_queue)
