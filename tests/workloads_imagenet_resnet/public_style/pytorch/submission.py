# ruff: noqa  (written in the public AlgoPerf style on purpose)
"""An SGD-momentum submission for the ImageNet workloads, written like public PyTorch ones.

Test fixture: ``from algoperf import spec`` and ``pytorch_setup`` at import
time, batch-norm statistics updated through ``update_batch_norm=True``,
all-reduce of the loss under DDP and an ``{'optimizer'}`` state.
"""

import torch
import torch.distributed.nn as dist_nn

from algoperf import spec
from algoperf.pytorch_utils import pytorch_setup

USE_PYTORCH_DDP, RANK, DEVICE, N_GPUS = pytorch_setup()


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  return {'optimizer': torch.optim.SGD(model_params.parameters(),
                                       lr=hyperparameters.learning_rate, momentum=0.9)}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
  model = current_param_container
  model.train()
  optimizer_state['optimizer'].zero_grad()
  logits, new_model_state = workload.model_fn(
      params=model, augmented_and_preprocessed_input_batch=batch, model_state=model_state,
      mode=spec.ForwardPassMode.TRAIN, rng=rng, update_batch_norm=True)
  loss_dict = workload.loss_fn(label_batch=batch['targets'], logits_batch=logits,
                               mask_batch=batch.get('weights'), label_smoothing=0.1)
  summed, n_valid = loss_dict['summed'], loss_dict['n_valid_examples']
  if USE_PYTORCH_DDP:
    summed, n_valid = dist_nn.all_reduce(summed), dist_nn.all_reduce(n_valid)
  (summed / n_valid).backward()
  optimizer_state['optimizer'].step()
  return optimizer_state, current_param_container, new_model_state


def prepare_for_eval(workload, current_param_container, current_params_types, model_state,
                     hyperparameters, loss_type, optimizer_state, eval_results, global_step,
                     rng):
  return optimizer_state, current_param_container, model_state


def get_batch_size(workload_name):
  if workload_name.startswith('imagenet_'):
    return 16
  raise ValueError(f'Unsupported workload name: {workload_name}.')


def data_selection(workload, input_queue, optimizer_state, current_param_container,
                   model_state, hyperparameters, global_step, rng):
  return next(input_queue)
