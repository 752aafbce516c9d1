"""The AlgoPerf contract: the Workload ABC and the Submission API.

This is the one module everything else depends on. It imports neither torch,
jax nor tensorflow, so the store, the scorer and the CLI's help stay light.
Names and signatures follow the public AlgoPerf spec so that submissions
written against ``algoperf.spec`` run unchanged (``algoperf_ray.compat``
aliases that module to this one).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

# --------------------------------------------------------------------------
# Enums and errors.
# --------------------------------------------------------------------------


class LossType(enum.Enum):
    SOFTMAX_CROSS_ENTROPY = 0
    SIGMOID_CROSS_ENTROPY = 1
    MEAN_SQUARED_ERROR = 2
    CTC_LOSS = 3
    MEAN_ABSOLUTE_ERROR = 4


class ForwardPassMode(enum.Enum):
    TRAIN = 0
    EVAL = 1


class ParameterType(enum.Enum):
    """What a parameter tensor is; submissions may treat kinds differently."""

    WEIGHT = 0
    BIAS = 1
    CONV_WEIGHT = 2
    BATCH_NORM_SCALE = 3
    BATCH_NORM_BIAS = 4
    LAYER_NORM_SCALE = 5
    LAYER_NORM_BIAS = 6
    EMBEDDING = 7
    ATTENTION_Q = 8
    ATTENTION_K = 9
    ATTENTION_V = 10
    ATTENTION_OUT = 11
    ATTENTION_QKV = 12
    ATTENTION_KV = 13
    ATTENTION_BIAS = 14


class TrainingCompleteError(Exception):
    """Raised by ``update_params`` to end training early (not an error)."""


class SubmissionError(Exception):
    """A submission file could not be used; the message names file and fix."""


# --------------------------------------------------------------------------
# Type aliases (as in the public spec).
# --------------------------------------------------------------------------

Shape = tuple[int, ...]
ParameterShapeTree = dict[str, Any]
ParameterTypeTree = dict[str, Any]
ParameterContainer = Any  # framework pytree / nn.Module parameters
ModelAuxiliaryState = Any
Tensor = Any
RandomState = Any  # jax PRNG key, or a uint32[2] numpy array for PyTorch
OptimizerState = Any
Hyperparameters = Any  # namedtuple / object with attribute access, or None
Steps = int
Seconds = float
Timing = int
LossFn = Callable[..., dict[str, Tensor]]
Batch = dict[str, Any]
EvalResults = list[tuple[dict[str, float], int]]
LossDict = dict[str, Tensor]
# Further public names that submissions use in annotations (evaluated at import).
ParameterKey = str
ModelInitState = tuple[ParameterContainer, ModelAuxiliaryState]


class ShapeTuple:
    """Shape wrapper used by ``param_shapes`` trees (kept for API parity)."""

    def __init__(self, shape_tuple: Shape):
        self.shape_tuple = tuple(shape_tuple)

    def __repr__(self) -> str:
        return f"ShapeTuple({self.shape_tuple})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShapeTuple) and other.shape_tuple == self.shape_tuple

    def __hash__(self) -> int:
        return hash(self.shape_tuple)


# --------------------------------------------------------------------------
# Metrics logger protocol (public submissions call it).
# --------------------------------------------------------------------------


@runtime_checkable
class MetricsLogger(Protocol):
    def append_scalar_metrics(
        self, metrics: Mapping[str, float], global_step: int, preemption_count: int | None = None,
        is_eval: bool = False,
    ) -> None: ...


# Metric names whose smaller values are better (everything else: larger is better).
MINIMIZED_METRICS = frozenset(
    {"loss", "error_rate", "wer", "ce_loss", "ctc_loss", "l1_loss", "ppl"}
)


def metric_is_minimized(metric_name: str) -> bool:
    """True when reaching a target means ``value <= target`` for this metric."""
    return metric_name.split("/")[-1] in MINIMIZED_METRICS


def meets_target(metric_name: str, value: Any, target: float | None, *,
                 strict: bool = False) -> Any:
    """The one target comparison: ``<=`` for minimised metrics, ``>=`` otherwise.

    Time-to-target (the score) uses it inclusive, as the reference scorer
    does. ``strict=True`` is the reference workloads' stop rule (``<`` /
    ``>``), used only to decide when training ends; keeping both here means
    the direction of a metric is decided in one place. ``value`` may be a
    number or a numpy array (the scorer's columns: an element-wise mask comes
    back). Missing or NaN values, and a missing target (no test set), never
    meet a target: NaN fails every comparison.
    """
    if value is None or target is None:
        return False
    if metric_is_minimized(metric_name):
        hit = value < target if strict else value <= target
    else:
        hit = value > target if strict else value >= target
    return hit if hasattr(hit, "shape") else bool(hit)


# --------------------------------------------------------------------------
# The Workload ABC.
# --------------------------------------------------------------------------


class Workload(metaclass=abc.ABCMeta):
    """A fixed model + dataset + loss; submissions may call it, never change it.

    Framework leaf classes implement the abstract methods. Benchmark numbers
    (targets, budgets, example counts) come from ``self.meta`` so they live in
    one place (``workloads/<family>/metadata.py``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._param_shapes: ParameterShapeTree | None = None
        self._param_types: ParameterTypeTree | None = None
        self._eval_iters: dict[str, Iterator[Batch]] = {}
        self.metrics_logger: MetricsLogger | None = None

    def attach_metrics_logger(self, metrics_logger: MetricsLogger | None) -> None:
        """Public harness name for setting ``self.metrics_logger``."""
        self.metrics_logger = metrics_logger

    # ---- data ------------------------------------------------------------
    @abc.abstractmethod
    def _build_input_queue(
        self, data_rng: RandomState, split: str, data_dir: str, global_batch_size: int,
        cache: bool | None = None, repeat_final_dataset: bool | None = None,
        num_batches: int | None = None,
    ) -> Iterator[Batch]:
        """Batches on device: global+sharded (JAX) or per-process shard (PyTorch)."""

    # ---- model -------------------------------------------------------------
    @abc.abstractmethod
    def init_model_fn(self, rng: RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[ParameterContainer, ModelAuxiliaryState]:
        """Initial params and model state. Untimed."""

    @abc.abstractmethod
    def is_output_params(self, param_key: Any) -> bool:
        """Whether a parameter belongs to the output layer."""

    @abc.abstractmethod
    def model_fn(
        self, params: ParameterContainer, augmented_and_preprocessed_input_batch: dict[str, Tensor],
        model_state: ModelAuxiliaryState, mode: ForwardPassMode, rng: RandomState,
        update_batch_norm: bool, dropout_rate: float | None = None,
    ) -> tuple[Tensor, ModelAuxiliaryState]:
        """Forward pass: (logits, new model state)."""

    @abc.abstractmethod
    def loss_fn(self, label_batch: Tensor, logits_batch: Tensor, mask_batch: Tensor | None = None,
                label_smoothing: float = 0.0) -> LossDict:
        """Return {'summed', 'n_valid_examples', 'per_example'}."""

    @abc.abstractmethod
    def _eval_model_on_split(
        self, split: str, num_examples: int, global_batch_size: int, params: ParameterContainer,
        model_state: ModelAuxiliaryState, rng: RandomState, data_dir: str, global_step: int = 0,
    ) -> dict[str, float]:
        """Metrics of one split, as python floats."""

    # ---- properties read from metadata ----------------------------------------
    @property
    @abc.abstractmethod
    def meta(self) -> Any:
        """This workload's ``algoperf_ray.benchmark.meta.WorkloadMeta``."""

    @property
    def workload_name(self) -> str:
        return self.meta.name

    @property
    def target_metric_name(self) -> str:
        return self.meta.target_metric_name

    @property
    def validation_target_value(self) -> float:
        return self.meta.validation_target

    @property
    def test_target_value(self) -> float:
        return self.meta.test_target

    @property
    def loss_type(self) -> LossType:
        return self.meta.loss_type

    @property
    def num_train_examples(self) -> int:
        return self.meta.num_train_examples

    @property
    def num_eval_train_examples(self) -> int:
        return self.meta.num_eval_train_examples

    @property
    def num_validation_examples(self) -> int:
        return self.meta.num_validation_examples

    @property
    def num_test_examples(self) -> int:
        return self.meta.num_test_examples

    @property
    def eval_batch_size(self) -> int:
        return self.meta.eval_batch_size

    @property
    def train_mean(self) -> Any:
        return self.meta.train_mean

    @property
    def train_stddev(self) -> Any:
        return self.meta.train_stddev

    @property
    def max_allowed_runtime_sec(self) -> float:
        return self.meta.max_runtime_sec

    @property
    def eval_period_time_sec(self) -> float:
        return self.meta.eval_period_sec

    @property
    def step_hint(self) -> int:
        return self.meta.step_hint

    @property
    def param_shapes(self) -> ParameterShapeTree:
        if self._param_shapes is None:
            raise ValueError("Call init_model_fn() before reading workload.param_shapes.")
        return self._param_shapes

    @property
    def model_params_types(self) -> ParameterTypeTree:
        if self._param_types is None:
            raise ValueError("Call init_model_fn() before reading workload.model_params_types.")
        return self._param_types

    # ---- targets ----------------------------------------------------------------
    def _reached(self, eval_result: Mapping[str, float], split: str,
                 target: float | None) -> bool:
        """The stop rule: strict ``<`` / ``>``, as the reference workloads define it.

        It only decides when training ends (both goals reached); the score
        uses the inclusive :func:`meets_target`.
        """
        if target is None:  # no such split (the LM workload has no test set): no goal to wait for
            return True
        metric = f"{split}/{self.target_metric_name}"
        return meets_target(metric, eval_result.get(metric), target, strict=True)

    def has_reached_validation_target(self, eval_result: Mapping[str, float]) -> bool:
        return self._reached(eval_result, "validation", self.validation_target_value)

    def has_reached_test_target(self, eval_result: Mapping[str, float]) -> bool:
        return self._reached(eval_result, "test", self.test_target_value)

    # ---- eval ----------------------------------------------------------------
    def eval_model(
        self, global_batch_size: int, params: ParameterContainer, model_state: ModelAuxiliaryState,
        rng: RandomState, data_dir: str, imagenet_v2_data_dir: str | None, global_step: int,
    ) -> dict[str, float]:
        """Run the untimed eval on train subset, validation and test splits."""
        splits = [("train", "eval_train", self.num_eval_train_examples),
                  ("validation", "validation", self.num_validation_examples),
                  ("test", "test", self.num_test_examples)]
        results: dict[str, float] = {}
        for prefix, split, n in splits:
            if not n:
                continue
            metrics = self._eval_model_on_split(
                split, n, global_batch_size, params, model_state, rng, data_dir, global_step)
            results.update({f"{prefix}/{k}": float(v) for k, v in metrics.items()})
        return results


# --------------------------------------------------------------------------
# The Submission API (a module defining these functions).
# --------------------------------------------------------------------------


class Submission(Protocol):
    """The five functions a submission module defines (``train_state`` optional)."""

    def get_batch_size(self, workload_name: str) -> int: ...

    def init_optimizer_state(
        self, workload: Workload, model_params: ParameterContainer,
        model_state: ModelAuxiliaryState, hyperparameters: Hyperparameters, rng: RandomState,
    ) -> OptimizerState: ...

    def update_params(
        self, workload: Workload, current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree, model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters, batch: dict[str, Tensor], loss_type: LossType,
        optimizer_state: OptimizerState, eval_results: EvalResults, global_step: int,
        rng: RandomState, train_state: dict[str, Any] | None = None,
    ) -> tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]: ...

    def prepare_for_eval(
        self, workload: Workload, current_param_container: ParameterContainer,
        current_params_types: ParameterTypeTree, model_state: ModelAuxiliaryState,
        hyperparameters: Hyperparameters, loss_type: LossType, optimizer_state: OptimizerState,
        eval_results: EvalResults, global_step: int, rng: RandomState,
        train_state: dict[str, Any] | None = None,
    ) -> tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]: ...

    def data_selection(
        self, workload: Workload, input_queue: Iterator[dict[str, Any]],
        optimizer_state: OptimizerState, current_param_container: ParameterContainer,
        model_state: ModelAuxiliaryState, hyperparameters: Hyperparameters, global_step: int,
        rng: RandomState,
    ) -> dict[str, Tensor]: ...


REQUIRED_SUBMISSION_FUNCTIONS = (
    "get_batch_size", "init_optimizer_state", "update_params", "data_selection",
)
# prepare_for_eval is optional in older public submissions; the runner uses a no-op then.
OPTIONAL_SUBMISSION_FUNCTIONS = ("prepare_for_eval",)

# Legacy names some public submissions use.
UpdateReturn = tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
InitOptimizerFn = Callable[..., OptimizerState]
UpdateParamsFn = Callable[..., UpdateReturn]
PrepareForEvalFn = Callable[..., UpdateReturn]
DataSelectionFn = Callable[..., dict[str, Tensor]]
