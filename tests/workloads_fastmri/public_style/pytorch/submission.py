# ruff: noqa  (written in the public AlgoPerf style on purpose)
"""A public-style PyTorch Adam submission for fastmri (test fixture).

``from algoperf import spec`` and ``pytorch_setup`` at import time, the
dropout rate from the hyperparameters, a plain torch optimizer.
"""

import torch

from algoperf import spec
from algoperf.pytorch_utils import pytorch_setup

USE_PYTORCH_DDP, RANK, DEVICE, N_GPUS = pytorch_setup()


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  return {'optimizer': torch.optim.Adam(model_params.parameters(),
                                        lr=hyperparameters.learning_rate)}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
  assert loss_type == spec.LossType.MEAN_ABSOLUTE_ERROR
  model = current_param_container
  optimizer_state['optimizer'].zero_grad()
  outputs, _ = workload.model_fn(model, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
                                 update_batch_norm=False,
                                 dropout_rate=hyperparameters.dropout_rate)
  d = workload.loss_fn(batch['targets'], outputs, batch.get('weights'))
  (d['summed'] / d['n_valid_examples']).backward()
  optimizer_state['optimizer'].step()
  return optimizer_state, model, model_state


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
