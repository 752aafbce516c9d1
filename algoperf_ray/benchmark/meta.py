"""Per-workload facts as frozen data.

Every workload family declares its workloads (base and variants) in a
framework-free ``workloads/<family>/metadata.py`` as a list named
``WORKLOADS`` of :class:`WorkloadMeta`. The registry, the runner, the
``describe`` command and the scorer's current version table all read these
objects, so each number is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from algoperf_ray.spec import LossType, metric_is_minimized


@dataclass(frozen=True)
class BatchField:
    """Shape (without the batch dimension) and dtype of one batch entry.

    ``high`` bounds integer fields (exclusive) for synthetic data; ``low``
    defaults to 0. Float fields are drawn from a standard normal.
    """

    shape: tuple[int, ...]
    dtype: str
    high: int | None = None
    low: int = 0


@dataclass(frozen=True)
class WorkloadMeta:
    """Facts about one workload (AlgoPerf current version unless stated)."""

    name: str
    family: str
    target_metric_name: str
    validation_target: float
    test_target: float
    max_runtime_sec: float
    eval_period_sec: float
    step_hint: int
    loss_type: LossType
    num_train_examples: int
    num_eval_train_examples: int
    num_validation_examples: int
    num_test_examples: int
    eval_batch_size: int
    # "module:Class" import paths of the framework leaf classes; empty where the
    # workload is scored but not (yet) implemented here.
    jax_class: str = ""
    torch_class: str = ""
    base: str | None = None  # set on variants: the base workload's name
    # Shapes/dtypes of a training batch (for synthetic data and `describe`).
    batch_fields: dict[str, BatchField] = field(default_factory=dict)
    # Reference parameter count (checked by tests) where known.
    num_params: int | None = None
    train_mean: Any = None
    train_stddev: Any = None
    # Model-construction options (variants switch activations, sizes, ...).
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # A benchmark workload whose batch size stands in for this one when a
    # submission's get_batch_size knows only the benchmark's names (dev
    # workloads: digits -> mnist, the reference's own dev workload).
    batch_size_stand_in: str | None = None

    @property
    def minimize(self) -> bool:
        """True when the target metric is minimised (reached when ``<=``)."""
        return metric_is_minimized(self.target_metric_name)

    @property
    def is_variant(self) -> bool:
        return self.base is not None

    def class_path(self, framework: str) -> str:
        return {"jax": self.jax_class, "pytorch": self.torch_class}.get(framework, "")

    @property
    def frameworks(self) -> tuple[str, ...]:
        return tuple(f for f in ("jax", "pytorch") if self.class_path(f))
