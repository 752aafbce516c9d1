"""Target semantics: the score is inclusive, the stop rule is strict (as the reference)."""

from __future__ import annotations

import math

import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.workload.base import BaseWorkload


class _Meta(BaseWorkload):
    """A concrete workload over real metadata, enough to call the target checks."""

    def init_model_fn(self, rng, dropout_rate=None, aux_dropout_rate=None): ...
    def is_output_params(self, param_key): ...
    def model_fn(self, *a, **k): ...
    def loss_fn(self, *a, **k): ...


@pytest.mark.parametrize("name, value, meets, stops", [
    ("mnist", 0.97, True, False),      # equal: counts for the score, does not stop training
    ("mnist", 0.971, True, True),
    ("mnist", 0.96, False, False),
    ("criteo1tb", 0.123735, True, False),
    ("criteo1tb", 0.1237, True, True),
    ("criteo1tb", 0.13, False, False),
    ("mnist", math.nan, False, False),  # NaN never reaches a target
])
def test_meets_target_vs_stop_rule(name: str, value: float, meets: bool, stops: bool) -> None:
    meta = registry.get_meta(name)
    metric = f"validation/{meta.target_metric_name}"
    assert spec.meets_target(metric, value, meta.validation_target) is meets
    wl = _Meta(meta=meta)
    assert wl.has_reached_validation_target({metric: value}) is stops


def test_missing_metric_never_reaches() -> None:
    wl = _Meta(meta=registry.get_meta("mnist"))
    assert not wl.has_reached_validation_target({})
    assert not spec.meets_target("validation/accuracy", None, 0.5)


def test_a_workload_without_a_test_set_has_no_test_goal() -> None:
    """The LM workload has no test split: its test goal never holds training back."""
    import dataclasses

    meta = dataclasses.replace(registry.get_meta("mnist"), test_target=None)
    wl = _Meta(meta=meta)
    assert wl.has_reached_test_target({})
    assert not wl.has_reached_validation_target({"validation/accuracy": 0.5})
    assert not spec.meets_target("test/accuracy", 0.99, None)
