"""Baselines and public-style submissions train the tiny workload in both frameworks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from algoperf_ray.submission.loader import load_submission
from algoperf_ray.submission.search_space import load_search_space, make_hparams

BASELINES = ["nadamw", "adamw", "sgd_momentum", "nesterov"]


def _workload(tiny, framework):
    return tiny.jax_workload() if framework == "jax" else tiny.torch_workload()


def _weights(params, framework):
    """(kernel, bias) as numpy in the JAX layout."""
    if framework == "jax":
        return np.asarray(params["dense"]["kernel"]), np.asarray(params["dense"]["bias"])
    module = getattr(params, "module", params)
    return (module.weight.detach().numpy().T, module.bias.detach().numpy())


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", BASELINES)
def test_baseline_self_tuning_point_reduces_loss(repo_root, tiny, name, framework):
    sub = load_submission(repo_root / "submissions" / name, framework=framework)
    assert sub.name == name and sub.get_batch_size("imagenet_resnet_large_bn_init") == 1024
    assert sub.get_batch_size("imagenet_resnet_silu") == 512
    with pytest.raises(ValueError, match="no batch size for workload 'nope'"):
        sub.get_batch_size("nope")
    _, _, (before, after) = tiny.train(sub, _workload(tiny, framework), None, steps=30)
    assert after < 0.95 * before, (before, after)


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_frameworks_follow_the_same_trajectory(repo_root, tiny, name):
    """Same init, batches and drawn hyperparameters: JAX and PyTorch end equal."""
    space = load_search_space(repo_root / "submissions" / name / "tuning_search_space.json")
    point = dict(space.draw(1, seed=5)[0], grad_clip=1.0)
    finals = {}
    for fw in ("jax", "pytorch"):
        sub = load_submission(repo_root / "submissions" / name, framework=fw)
        params, _, losses = tiny.train(sub, _workload(tiny, fw), make_hparams(point), steps=12)
        finals[fw] = _weights(params, fw)
        assert losses[1] < losses[0]
    for a, b in zip(finals["jax"], finals["pytorch"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class RecordingLogger:
    def __init__(self):
        self.calls = []

    def append_scalar_metrics(self, metrics, global_step, preemption_count=None, is_eval=False):
        self.calls.append((global_step, dict(metrics)))


@pytest.mark.parametrize("fixture, framework, hparams", [
    ("public_jax", "jax", {"learning_rate": 0.05, "label_smoothing": 0.1}),
    ("public_pytorch", "pytorch", {"learning_rate": 0.1, "one_minus_beta1": 0.1}),
    ("legacy_pytorch", "pytorch", None),
])
def test_public_style_submissions_run_unchanged(fixtures_dir, tiny, fixture, framework, hparams):
    sub = load_submission(fixtures_dir / fixture / "submission.py")
    assert sub.update_accepts_train_state == (fixture != "legacy_pytorch")
    assert sub.has_prepare_for_eval == (fixture != "legacy_pytorch")
    workload = _workload(tiny, framework)
    workload.metrics_logger = RecordingLogger()
    _, _, (before, after) = tiny.train(sub, workload, make_hparams(hparams), steps=20)
    assert after < 0.5 * before, (before, after)
    if fixture == "public_jax":  # it logs every step through the workload's logger
        assert [c[0] for c in workload.metrics_logger.calls] == list(range(20))


JAX_TWO_DEVICES = """
import json, sys
import jax, numpy as np
sys.path.insert(0, {helper_dir!r})
import tiny_workloads as tiny
from algoperf_ray.submission.search_space import make_hparams
from algoperf_ray.submission.loader import load_submission
assert jax.local_device_count() == 2
sub = load_submission({path!r})
params, _, losses = tiny.train(sub, tiny.jax_workload(), make_hparams({point!r}), steps=8)
kernel = params["dense"]["kernel"]
print(json.dumps({{"devices": len(kernel.sharding.device_set),
                  "replicated": kernel.sharding.is_fully_replicated,
                  "kernel": np.asarray(kernel).tolist(), "losses": losses}}))
"""


def test_jax_baseline_shards_batches_over_two_devices(repo_root, tiny, tmp_path,
                                                      host_devices_env):
    """On 2 fake devices: params stay replicated and the result equals one device's."""
    path = str(repo_root / "submissions" / "nadamw" / "jax" / "submission.py")
    point = {"learning_rate": 0.01, "one_minus_beta1": 0.1, "beta2": 0.999,
             "weight_decay": 0.01, "warmup_factor": 0.0}
    code = JAX_TWO_DEVICES.format(helper_dir=str(tiny.__file__).rsplit("/", 1)[0], path=path,
                                  point=point)
    env = host_devices_env(2, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2 and result["replicated"]
    assert result["losses"][1] < result["losses"][0]
    sub = load_submission(path)
    params, _, _ = tiny.train(sub, tiny.jax_workload(), make_hparams(point), steps=8)
    np.testing.assert_allclose(result["kernel"], np.asarray(params["dense"]["kernel"]),
                               rtol=1e-5, atol=1e-6)
