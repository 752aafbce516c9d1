"""A tiny linear 4-class problem as real JAX and PyTorch workloads.

Small enough that a few optimizer steps take milliseconds, yet it is a real
``BaseWorkload`` with a framework leaf (placement: sharding, DDP shards),
so the baselines and public-style fixtures run exactly as on a benchmark
workload. Both frameworks share one parameter layout: JAX ``kernel`` is
PyTorch ``weight.T``, which lets tests start both from the same weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from algoperf_ray import spec
from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workload.metrics import masked_loss_dict

DIM, CLASSES = 16, 4

META = WorkloadMeta(
    name="tiny", family="tiny", target_metric_name="accuracy", validation_target=0.9,
    test_target=0.9, max_runtime_sec=60, eval_period_sec=1, step_hint=200,
    loss_type=spec.LossType.SOFTMAX_CROSS_ENTROPY, num_train_examples=4096,
    num_eval_train_examples=256, num_validation_examples=256, num_test_examples=0,
    eval_batch_size=128,
    batch_fields={"inputs": BatchField((DIM,), "float32"),
                  "targets": BatchField((), "int32", high=CLASSES)})


def batches(seed: int, batch_size: int):
    """Endless labelled batches: the label is the argmax of a fixed linear map."""
    teacher = np.random.default_rng(1234).standard_normal((DIM, CLASSES))
    gen = np.random.default_rng(seed)
    while True:
        x = gen.standard_normal((batch_size, DIM)).astype(np.float32)
        yield {"inputs": x, "targets": np.argmax(x @ teacher, axis=1).astype(np.int32)}


def initial_weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(seed)
    return (0.1 * gen.standard_normal((DIM, CLASSES)).astype(np.float32),
            np.zeros((CLASSES,), np.float32))


class _TinyData(BaseWorkload):
    def _real_batches(self, split, seed, data_dir, global_batch_size, train):
        it = batches(seed if train else 99, global_batch_size)
        if train:
            return it
        n = self._split_size(split) // global_batch_size
        return ({**b, "weights": np.ones((global_batch_size,), np.float32)}
                for _, b in zip(range(n), it, strict=False))


def jax_workload(data_mode: str = "real") -> Any:
    import jax
    import jax.numpy as jnp

    from algoperf_ray.workload import sharding_jax
    class TinyJax(_TinyData):
        framework = "jax"

        def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
            kernel, bias = initial_weights(int(np.asarray(rng).ravel()[-1]))
            params = {"dense": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}}
            self._param_shapes = jax.tree.map(lambda a: spec.ShapeTuple(a.shape), params)
            self._param_types = {"dense": {"kernel": spec.ParameterType.WEIGHT,
                                           "bias": spec.ParameterType.BIAS}}
            return sharding_jax.replicate(params), None

        def is_output_params(self, param_key):
            return param_key == "dense"

        def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state, mode,
                     rng, update_batch_norm, dropout_rate=None):
            x = augmented_and_preprocessed_input_batch["inputs"]
            return x @ params["dense"]["kernel"] + params["dense"]["bias"], model_state

        def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
            one_hot = jax.nn.one_hot(label_batch, CLASSES)
            targets = one_hot * (1 - label_smoothing) + label_smoothing / CLASSES
            per_example = -jnp.sum(targets * jax.nn.log_softmax(logits_batch), axis=-1)
            return masked_loss_dict(per_example, mask_batch, jnp)

        def _eval_metrics(self, params, model_state, batch, rng):
            logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL,
                                      rng, False)
            w = batch["weights"]
            loss = self.loss_fn(batch["targets"], logits, w)["summed"]
            correct = jnp.sum((jnp.argmax(logits, -1) == batch["targets"]) * w)
            return {"loss": loss, "accuracy": correct}

    return TinyJax(meta=META, data_mode=data_mode)


def torch_workload(data_mode: str = "real") -> Any:
    import torch
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    from algoperf_ray.workload.placement_torch import ddp_info

    class TinyTorch(_TinyData):
        framework = "pytorch"

        def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None):
            kernel, bias = initial_weights(int(np.asarray(rng).ravel()[-1]))
            model = torch.nn.Linear(DIM, CLASSES)
            with torch.no_grad():
                model.weight.copy_(torch.from_numpy(kernel.T.copy()))
                model.bias.copy_(torch.from_numpy(bias))
            self._param_shapes = {k: spec.ShapeTuple(v.shape)
                                  for k, v in model.named_parameters()}
            self._param_types = {"weight": spec.ParameterType.WEIGHT,
                                 "bias": spec.ParameterType.BIAS}
            model = model.to(self.device)
            return (DDP(model) if ddp_info()[0] else model), None

        def is_output_params(self, param_key):
            return True

        def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state, mode,
                     rng, update_batch_norm, dropout_rate=None):
            params.train(mode == spec.ForwardPassMode.TRAIN)
            return params(augmented_and_preprocessed_input_batch["inputs"]), model_state

        def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
            per_example = F.cross_entropy(logits_batch, label_batch.long(), reduction="none",
                                          label_smoothing=label_smoothing)
            return masked_loss_dict(per_example, mask_batch, torch)

        def _eval_metrics(self, params, model_state, batch, rng):
            logits, _ = self.model_fn(params, batch, model_state, spec.ForwardPassMode.EVAL,
                                      rng, False)
            w = batch["weights"]
            loss = self.loss_fn(batch["targets"], logits, w)["summed"]
            correct = ((logits.argmax(-1) == batch["targets"]).float() * w).sum()
            return {"loss": loss, "accuracy": correct}

    return TinyTorch(meta=META, data_mode=data_mode)


def train(sub: Any, workload: Any, hparams: Any, steps: int, seed: int = 0,
          batch_size: int = 64) -> tuple[Any, Any, list[float]]:
    """Drive a loaded submission like the harness does; return params, state, eval losses.

    Eval loss on the validation split is recorded before and after training.
    """
    from algoperf_ray.workload import rng as rng_lib

    key = rng_lib.PRNGKey(seed)
    params, model_state = workload.init_model_fn(key)
    queue = workload._build_input_queue(key, "train", None, batch_size)
    opt_state = sub.init_optimizer_state(workload=workload, model_params=params,
                                         model_state=model_state, hyperparameters=hparams,
                                         rng=key)
    losses = [workload.eval_model(128, params, model_state, key, None, None, 0)["validation/loss"]]
    for step in range(steps):
        step_rng = rng_lib.fold_in(key, step)
        batch = sub.data_selection(workload=workload, input_queue=queue,
                                   optimizer_state=opt_state, current_param_container=params,
                                   model_state=model_state, hyperparameters=hparams,
                                   global_step=step, rng=step_rng)
        extra = {"train_state": {"accumulated_submission_time": 0.0}} \
            if sub.update_accepts_train_state else {}
        opt_state, params, model_state = sub.update_params(
            workload=workload, current_param_container=params,
            current_params_types=workload.model_params_types, model_state=model_state,
            hyperparameters=hparams, batch=batch, loss_type=workload.loss_type,
            optimizer_state=opt_state, eval_results=[], global_step=step, rng=step_rng, **extra)
    opt_state, params, model_state = sub.prepare_for_eval(
        workload=workload, current_param_container=params,
        current_params_types=workload.model_params_types, model_state=model_state,
        hyperparameters=hparams, loss_type=workload.loss_type, optimizer_state=opt_state,
        eval_results=[], global_step=steps, rng=key)
    losses.append(workload.eval_model(128, params, model_state, key, None, None, steps)
                  ["validation/loss"])
    return params, model_state, losses
