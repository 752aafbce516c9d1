"""``algoperf-ray describe``: a workload's facts and parameter shapes as JSON.

Shapes are computed without allocating parameters where possible
(``jax.eval_shape`` for JAX, PyTorch's ``meta`` device for PyTorch), so even
criteo1tb's ~0.5 B-parameter embedding table is described in seconds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from algoperf_ray.benchmark import registry
from algoperf_ray.benchmark.meta import WorkloadMeta


def metadata_facts(meta: WorkloadMeta) -> dict[str, Any]:
    """The framework-free facts of a workload (targets, budgets, batch shapes)."""
    return {
        "workload": meta.name,
        "family": meta.family,
        "base": meta.base,
        "loss_type": meta.loss_type.name,
        "target_metric_name": meta.target_metric_name,
        "target_direction": "min" if meta.minimize else "max",
        "validation_target": meta.validation_target,
        "test_target": meta.test_target,
        "max_runtime": meta.max_runtime_sec,
        "eval_period": meta.eval_period_sec,
        "step_hint": meta.step_hint,
        "eval_batch_size": meta.eval_batch_size,
        "num_train_examples": meta.num_train_examples,
        "num_eval_train_examples": meta.num_eval_train_examples,
        "num_validation_examples": meta.num_validation_examples,
        "num_test_examples": meta.num_test_examples,
        "batch_shapes": {k: {"shape": list(f.shape), "dtype": f.dtype}
                         for k, f in meta.batch_fields.items()},
        "frameworks": list(meta.frameworks),
        "reference_num_params": meta.num_params,
    }


def _jax_shapes(workload: Any) -> dict[str, list[int]]:
    import jax

    from algoperf_ray.workload import rng as rng_lib

    params, _ = jax.eval_shape(workload.init_model_fn, rng_lib.PRNGKey(0))
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return {"/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path): list(leaf.shape)
            for path, leaf in flat}


def _torch_shapes(workload: Any) -> dict[str, list[int]]:
    import torch

    from algoperf_ray.workload import rng as rng_lib

    try:
        with torch.device("meta"):
            model, _ = workload.init_model_fn(rng_lib.PRNGKey(0))
    except (NotImplementedError, RuntimeError):
        model, _ = workload.init_model_fn(rng_lib.PRNGKey(0))  # small models: real init
    module = getattr(model, "module", model)
    return {name: list(p.shape) for name, p in module.named_parameters()}


def describe(name: str, framework: str = "jax", *, size_kwargs: dict | None = None) -> dict:
    """Facts + parameter shapes/count of ``name`` as built by ``framework``."""
    meta = registry.get_meta(name)
    facts = metadata_facts(meta)
    if not meta.frameworks:
        facts["note"] = "scoring metadata only: no model implementation here"
        return facts
    workload = registry.load_workload(name, framework, data_mode="synthetic",
                                      **(size_kwargs or {}))
    shapes = _jax_shapes(workload) if framework == "jax" else _torch_shapes(workload)
    facts.update({
        "framework": framework,
        "num_params": int(sum(math.prod(s) for s in shapes.values())),
        "param_shapes": shapes,
    })
    return facts


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, float) and math.isinf(obj):
        return "inf"
    return obj
