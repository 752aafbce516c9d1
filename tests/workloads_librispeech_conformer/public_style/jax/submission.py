# ruff: noqa  (written in the public AlgoPerf style on purpose)
"""A JAX AdamW submission written the way public AlgoPerf submissions are.

Test fixture for the LibriSpeech workloads: imports only ``algoperf.*``,
jits its step with the jax_sharding_utils shardings, threads the batch-norm
``model_state`` through ``model_fn`` and passes ``batch['targets']`` to the
CTC ``loss_fn`` as public submissions do.
"""

from typing import Any, Dict, Iterator, List, Optional, Tuple

import jax
import optax

from algoperf import jax_sharding_utils, spec
from algoperf import random_utils as prng


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  tx = optax.adamw(hyperparameters.learning_rate, weight_decay=1e-4)
  return jax_sharding_utils.replicate(tx.init(model_params)), tx.update


def _step(workload, opt_update_fn, opt_state, params, model_state, batch, rng):

  def loss_fn(p):
    logits, new_state = workload.model_fn(p, batch, model_state, spec.ForwardPassMode.TRAIN,
                                          rng, update_batch_norm=True)
    d = workload.loss_fn(batch['targets'], logits, batch.get('weights'))
    return d['summed'] / d['n_valid_examples'], new_state

  (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  updates, opt_state = opt_update_fn(grads, opt_state, params)
  return opt_state, optax.apply_updates(params, updates), new_state, loss


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
  assert loss_type == spec.LossType.CTC_LOSS
  opt_state, opt_update_fn = optimizer_state
  rng, _ = prng.split(rng, 2)
  replicated = jax_sharding_utils.get_replicate_sharding()
  sharded = jax_sharding_utils.get_batch_dim_sharding()
  step = jax.jit(_step, static_argnums=(0, 1),
                 in_shardings=(replicated, replicated, replicated, sharded, replicated),
                 out_shardings=(replicated, replicated, replicated, replicated))
  opt_state, params, model_state, loss = step(workload, opt_update_fn, opt_state,
                                              current_param_container, model_state, batch, rng)
  return (opt_state, opt_update_fn), params, model_state


def prepare_for_eval(workload, current_param_container, current_params_types, model_state,
                     hyperparameters, loss_type, optimizer_state, eval_results, global_step,
                     rng):
  return optimizer_state, current_param_container, model_state


def get_batch_size(workload_name):
  if workload_name.startswith('librispeech'):
    return 16
  raise ValueError(f'Unsupported workload name: {workload_name}.')


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
  return next(input_queue)
