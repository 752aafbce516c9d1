"""The shared eval loop: "sum" and "collect" modes, eval caching, JAX padding rows.

A tiny hand-written workload (a fixed linear map, no training) so the loop
is checked against numpy directly; each case runs in both frameworks.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.meta import BatchField, WorkloadMeta
from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workload.placement import Placement, get_placement

N_VAL, DIM = 10, 3
META = WorkloadMeta(
    name="linear", family="linear", target_metric_name="loss", validation_target=0.0,
    test_target=0.0, max_runtime_sec=1, eval_period_sec=1, step_hint=1,
    loss_type=spec.LossType.MEAN_SQUARED_ERROR, num_train_examples=64,
    num_eval_train_examples=N_VAL, num_validation_examples=N_VAL, num_test_examples=N_VAL,
    eval_batch_size=4, batch_fields={"inputs": BatchField((DIM,), "float32"),
                                     "targets": BatchField((), "float32")})
X = np.random.default_rng(0).standard_normal((N_VAL, DIM)).astype(np.float32)
Y = np.random.default_rng(1).standard_normal(N_VAL).astype(np.float32)
W = np.array([0.5, -1.0, 2.0], np.float32)


class Linear(BaseWorkload):
    """Predictions ``x @ params``; eval loss is the squared error."""

    def __init__(self, meta: WorkloadMeta = META, **kw) -> None:
        super().__init__(meta, **kw)
        self.passes = 0  # how many times the eval data was read

    def _real_batches(self, split, seed, data_dir, global_batch_size, train):
        self.passes += 1
        for lo in range(0, N_VAL, global_batch_size):
            x, y = X[lo:lo + global_batch_size], Y[lo:lo + global_batch_size]
            pad = global_batch_size - len(x)
            yield {"inputs": np.pad(x, [(0, pad), (0, 0)]), "targets": np.pad(y, (0, pad)),
                   "weights": np.pad(np.ones(len(x), np.float32), (0, pad))}

    def _predict(self, params, batch):
        x = batch["inputs"]
        return (x * params).sum(-1)

    def _eval_metrics(self, params, model_state, batch, rng):
        err = (self._predict(params, batch) - batch["targets"]) ** 2
        return {"loss": (err * batch["weights"]).sum()}

    def _eval_outputs(self, params, model_state, batch, rng):
        return {"pred": self._predict(params, batch)}

    def _collected_metrics(self, outputs):
        assert len(outputs["pred"]) == len(outputs["targets"]) == 12  # 3 batches of 4
        err = (outputs["pred"] - outputs["targets"]) ** 2
        return {"loss": float((err * outputs["weights"]).sum() / outputs["weights"].sum())}

    init_model_fn = is_output_params = model_fn = loss_fn = None  # not used here


def _params(framework: str):
    if framework == "jax":
        import jax.numpy as jnp

        return jnp.asarray(W)
    import torch

    return torch.from_numpy(W)


def _leaf(framework: str, **attrs):
    return type("Leaf", (Linear,), {"framework": framework, **attrs})


EXPECTED = float(((X @ W - Y) ** 2).mean())


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("mode", ["sum", "collect"])
def test_both_modes_give_the_numpy_metric(framework, mode):
    attrs = {"eval_mode": mode}
    if mode == "collect":
        attrs["eval_host_fields"] = ("targets", "weights")
    w = _leaf(framework, **attrs)(data_mode="real")
    out = w._eval_model_on_split("validation", N_VAL, 4, _params(framework), None, None, None)
    # "sum" divides by num_examples; both equal the mean over the 10 real rows.
    assert out["loss"] == pytest.approx(EXPECTED, rel=1e-5)


@pytest.mark.parametrize("cache", [True, False])
def test_cache_eval_replays_or_rereads(cache):
    w = _leaf("pytorch", cache_eval=cache)(data_mode="real")
    for _ in range(3):
        w._eval_model_on_split("validation", N_VAL, 4, _params("pytorch"), None, None, None)
    assert w.passes == (1 if cache else 3)


def test_unknown_mode_and_missing_framework_are_named():
    w = _leaf("pytorch", eval_mode="median")(data_mode="real")
    with pytest.raises(ValueError, match="eval_mode must be one of"):
        w._eval_model_on_split("validation", N_VAL, 4, _params("pytorch"), None, None, None)
    with pytest.raises(TypeError, match="framework"):
        Linear(data_mode="real").placement  # noqa: B018
    with pytest.raises(ValueError, match="no placement for framework"):
        get_placement("tensorflow")


def test_placements_follow_the_protocol():
    for framework in ("jax", "pytorch"):
        p = get_placement(framework)
        assert isinstance(p, Placement) and p.framework == framework
        assert p.world_size == 1 and p.rank == 0 and p.num_shards >= 1
        a = np.arange(6)
        np.testing.assert_array_equal(p.local_part(a), a)
        np.testing.assert_array_equal(p.gather(a), a)
        assert p.all_reduce({"x": 2.0}) == {"x": 2.0}


def test_jax_eval_batches_are_padded_to_the_device_count_in_a_subprocess(host_devices_env):
    """3 fake devices: an eval batch of 4 rows is padded to 6 with weight 0."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np
        from algoperf_ray.workload.placement import get_placement
        p = get_placement("jax")
        b = p.put({"x": np.ones((4, 2), np.float32)}, train=False)
        assert p.num_shards == 3 and b["x"].shape == (6, 2), b["x"].shape
        assert np.asarray(b["weights"]).tolist() == [1, 1, 1, 1, 0, 0]
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=host_devices_env(3), timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]

