"""A tiny real PyTorch workload and a scripted submission for runner tests.

The workload subclasses the real ``BaseWorkload`` (``framework = "pytorch"``) so the real data and eval
paths run. Its reported ``accuracy`` is the model's ``quality`` buffer,
which the scripted submission sets per step, so tests decide when targets
are met. Costs (seconds) are charged to a ``FakeClock`` by whoever "spends"
them: the submission for selection/update/prepare, the workload for eval.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from algoperf_ray import spec
from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workload.metrics import masked_loss_dict

META = WorkloadMeta(
    name="fake", family="fake", target_metric_name="accuracy", validation_target=0.5,
    test_target=0.5, max_runtime_sec=1000.0, eval_period_sec=1000.0, step_hint=100,
    loss_type=spec.LossType.SOFTMAX_CROSS_ENTROPY, num_train_examples=64,
    num_eval_train_examples=8, num_validation_examples=8, num_test_examples=8,
    eval_batch_size=8,
    batch_fields={"inputs": BatchField((2,), "float32"),
                  "targets": BatchField((), "int64", high=2)})


def make_meta(**changes: Any) -> WorkloadMeta:
    return dataclasses.replace(META, **changes)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.register_buffer("quality", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def bare(module: Any) -> Net:
    return module.module if hasattr(module, "module") else module


class FakeTorchWorkload(BaseWorkload):
    framework = "pytorch"

    def __init__(self, meta: WorkloadMeta = META, clock: Any = None, init_cost: float = 0.0,
                 eval_cost: float = 0.0) -> None:
        super().__init__(meta=meta, data_mode="synthetic")
        self.clock, self.init_cost, self.eval_cost = clock, init_cost, eval_cost

    def _charge(self, seconds: float) -> None:
        if self.clock is not None and seconds:
            self.clock.advance(seconds)

    def init_model_fn(self, rng: Any, dropout_rate: Any = None, aux_dropout_rate: Any = None):
        self._charge(self.init_cost)
        torch.manual_seed(rng_lib.to_seed(rng))
        model: Any = Net()
        self._param_shapes = {k: spec.ShapeTuple(v.shape) for k, v in model.named_parameters()}
        self._param_types = {k: spec.ParameterType.WEIGHT for k in self._param_shapes}
        return self.placement.place_model(model), None

    def is_output_params(self, param_key: Any) -> bool:
        return True

    def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state, mode, rng,
                 update_batch_norm, dropout_rate=None):
        return params(augmented_and_preprocessed_input_batch["inputs"]), model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        per_example = F.cross_entropy(logits_batch, label_batch, reduction="none",
                                      label_smoothing=label_smoothing)
        return masked_loss_dict(per_example, mask_batch, torch)

    def _eval_metrics(self, params, model_state, batch, rng):
        self._charge(self.eval_cost)
        weights = batch["weights"]
        logits = params(batch["inputs"])
        loss = self.loss_fn(batch["targets"], logits, weights)["summed"]
        return {"accuracy": bare(params).quality * weights.sum(), "loss": loss}


class ScriptedSubmission:
    """Duck-types ``algoperf_ray.submission.loader.LoadedSubmission`` with scripted costs."""

    path = "<scripted>"
    name = "scripted"
    update_accepts_train_state = True
    prepare_accepts_train_state = True

    def __init__(self, clock: Any = None, *, select_cost: float = 0.0, step_cost: float = 1.0,
                 prep_cost: float = 0.0, opt_init_cost: float = 0.0, batch_size: int = 8,
                 quality: Any = None, complete_at: int | None = None,
                 batch_from_step: bool = False) -> None:
        self.clock = clock
        self.select_cost, self.step_cost, self.prep_cost = select_cost, step_cost, prep_cost
        self.opt_init_cost, self.batch_size = opt_init_cost, batch_size
        self.quality = quality or (lambda step: 0.0)
        self.complete_at, self.batch_from_step = complete_at, batch_from_step
        self.log: list[dict[str, Any]] = []

    def _charge(self, seconds: float) -> None:
        if self.clock is not None and seconds:
            self.clock.advance(seconds)

    def get_batch_size(self, workload_name: str) -> int:
        return self.batch_size

    def init_optimizer_state(self, workload, model_params, model_state, hyperparameters, rng):
        self._charge(self.opt_init_cost)
        return {"optimizer": torch.optim.SGD(model_params.parameters(), lr=0.1, momentum=0.9)}

    def data_selection(self, workload, input_queue, optimizer_state, current_param_container,
                       model_state, hyperparameters, global_step, rng):
        self._charge(self.select_cost)
        batch = next(input_queue)
        if self.batch_from_step:  # deterministic per step, so resumed runs see the same data
            g = torch.Generator().manual_seed(global_step)
            batch = {"inputs": torch.randn(batch["inputs"].shape, generator=g),
                     "targets": torch.randint(0, 2, batch["targets"].shape, generator=g)}
        return batch

    def update_params(self, workload, current_param_container, current_params_types,
                      model_state, hyperparameters, batch, loss_type, optimizer_state,
                      eval_results, global_step, rng, train_state=None):
        self.log.append({"step": global_step, "rng": [int(x) for x in rng],
                         "train_state": train_state, "num_evals": len(eval_results),
                         "batch": batch, "hparams": hyperparameters})
        self._charge(self.step_cost)
        opt = optimizer_state["optimizer"]
        opt.zero_grad()
        logits, _ = workload.model_fn(current_param_container, batch, model_state,
                                      spec.ForwardPassMode.TRAIN, rng, True)
        loss = workload.loss_fn(batch["targets"], logits)["summed"] / logits.shape[0]
        loss.backward()
        opt.step()
        with torch.no_grad():
            bare(current_param_container).quality.fill_(self.quality(global_step + 1))
        if self.complete_at is not None and global_step + 1 >= self.complete_at:
            raise spec.TrainingCompleteError
        return optimizer_state, current_param_container, model_state

    def prepare_for_eval(self, workload, current_param_container, current_params_types,
                         model_state, hyperparameters, loss_type, optimizer_state, eval_results,
                         global_step, rng, train_state=None):
        self._charge(self.prep_cost)
        return optimizer_state, current_param_container, model_state


def is_ddp() -> bool:
    return dist.is_available() and dist.is_initialized()
