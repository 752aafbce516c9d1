"""``eval_model`` runs end to end for every dev workload and framework.

digits on its real data, mnist on its real TFDS pipeline over mock data,
cifar (reduced width) on synthetic data. Checks the reported keys, value
ranges, that padding never counts, and that both frameworks report the
same numbers for the same weights.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
tfds = pytest.importorskip("tensorflow_datasets")

from algoperf_ray.benchmark.registry import get_meta, load_workload  # noqa: E402
from algoperf_ray.workloads._convert import load_flax_into_torch  # noqa: E402

CASES = [("digits", "real", {}), ("mnist", "real", {}), ("cifar", "synthetic", {"num_filters": 8})]


def _random_flax(jw, seed: int):
    gen = np.random.default_rng(seed)
    variables = jax.tree_util.tree_map_with_path(
        lambda p, s: np.abs(gen.standard_normal(s.shape)).astype(np.float32) + 0.5
        if p[-1].key == "var" else (0.1 * gen.standard_normal(s.shape)).astype(np.float32),
        jw.abstract_variables())
    return variables.pop("params"), (variables or None)


@pytest.mark.parametrize("name,mode,kw", CASES, ids=[c[0] for c in CASES])
def test_eval_model_end_to_end_both_frameworks(name, mode, kw, tmp_path):
    jw = load_workload(name, "jax", data_mode=mode, **kw)
    tw = load_workload(name, "pytorch", data_mode=mode, **kw)
    if mode == "synthetic":  # synthetic evals cover the full split sizes: shrink them
        meta = dataclasses.replace(get_meta(name), num_eval_train_examples=150,
                                   num_validation_examples=150, num_test_examples=150)
        jw, tw = (type(w)(meta=meta, data_mode=mode, **kw) for w in (jw, tw))
    params, state = _random_flax(jw, 0)
    model, _ = tw.init_model_fn(np.array([0, 1], np.uint32))
    load_flax_into_torch(model, params, state, tw.jax_path)
    key = np.array([0, 2], np.uint32)
    batch_size = 100  # not a divisor of the split sizes: exercises padding
    with tfds.testing.mock_data(num_examples=130, policy=tfds.testing.MockPolicy.USE_CODE):
        j = jw.eval_model(batch_size, params, state, key, str(tmp_path), None, 0)
        t = tw.eval_model(batch_size, model, None, key, str(tmp_path), None, 0)
    expected = {f"{s}/{m}" for s in ("train", "validation", "test") for m in ("accuracy", "loss")}
    assert set(j) == set(t) == expected
    for k in expected:
        assert math.isfinite(j[k]) and j[k] == pytest.approx(t[k], rel=1e-3, abs=1e-3)
        if k.endswith("accuracy"):
            assert 0.0 <= j[k] <= 1.0
    assert j["validation/loss"] > 0


def test_digits_eval_counts_every_validation_example_once():
    w = load_workload("digits", "pytorch", data_mode="real")
    model, _ = w.init_model_fn(np.array([0, 1], np.uint32))
    # A model that always predicts class 3: accuracy = share of 3s in the split.
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.net[-1].bias[3] = 1.0
    r = w.eval_model(96, model, None, np.array([0, 1], np.uint32), None, None, 0)
    from algoperf_ray.workloads.digits import input_pipeline as data

    targets = data.split_arrays("validation", w.meta.train_mean, w.meta.train_stddev, 500)
    assert r["validation/accuracy"] == pytest.approx(float(np.mean(targets["targets"] == 3)))
