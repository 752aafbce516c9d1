# ruff: noqa  (written in the public AlgoPerf style on purpose)
"""A PyTorch AdamW submission written the way public AlgoPerf submissions are.

Test fixture for the LibriSpeech workloads: imports only ``algoperf.*`` and
torch, calls ``model_fn`` / ``loss_fn`` with ``batch['targets']`` and steps
``torch.optim.AdamW``.
"""

import torch

from algoperf import spec


def init_optimizer_state(workload, model_params, model_state, hyperparameters, rng):
  del model_state, rng
  return {'optimizer': torch.optim.AdamW(model_params.parameters(),
                                         lr=hyperparameters.learning_rate, weight_decay=1e-4)}


def update_params(workload, current_param_container, current_params_types, model_state,
                  hyperparameters, batch, loss_type, optimizer_state, eval_results,
                  global_step, rng, train_state=None):
  assert loss_type == spec.LossType.CTC_LOSS
  current_param_container.train()
  optimizer_state['optimizer'].zero_grad()
  logits, new_model_state = workload.model_fn(
      params=current_param_container, augmented_and_preprocessed_input_batch=batch,
      model_state=model_state, mode=spec.ForwardPassMode.TRAIN, rng=rng,
      update_batch_norm=True)
  loss_dict = workload.loss_fn(label_batch=batch['targets'], logits_batch=logits,
                               mask_batch=batch.get('weights'))
  loss = loss_dict['summed'] / loss_dict['n_valid_examples']
  loss.backward()
  optimizer_state['optimizer'].step()
  return optimizer_state, current_param_container, new_model_state


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
