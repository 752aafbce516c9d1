"""End to end on tiny real-format HDF5 volumes: eval equal in both frameworks, training runs.

The eval test copies the JAX weights into the PyTorch model, evaluates both
through the shared eval loop (real pipeline, padded last batches) and
checks the SSIM and loss against each other and against a plain numpy
recomputation from the model outputs.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri import input_pipeline as ip
from algoperf_ray.workloads.fastmri import metrics
from algoperf_ray.workloads.fastmri.convert import flax_to_torch_state
from algoperf_ray.workloads.fastmri.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

# The tiny test split holds 2 slices, so cap every eval split at 2 examples.
CAP = 2


def _kwargs(name: str) -> dict:
    return {**REDUCED_SIZE_KWARGS[name], "max_eval_examples": CAP}


def _numpy_eval(model, params, data_dir: Path, split: str, batch: int) -> dict[str, float]:
    """The metric from first principles: host predictions, numpy SSIM, mean over examples."""
    ssims, losses = [], []
    for b in ip.batches(data_dir, split, 0, batch, train=False,
                        num_validation_files=ip.NUM_VALIDATION_FILES):
        out = np.asarray(model.apply({"params": params}, b["inputs"], train=False), np.float64)
        keep = b["weights"] > 0
        ssims += list(metrics.ssim(out[keep], b["targets"][keep].astype(np.float64),
                                   b["mean"][keep], b["std"][keep], b["volume_max"][keep], np))
        losses += list(np.abs(out[keep] - b["targets"][keep]).mean((1, 2)))
    return {"ssim": float(np.mean(ssims[:CAP])), "loss": float(np.mean(losses[:CAP]))}


@pytest.mark.parametrize("name", ["fastmri", "fastmri_layernorm"])
def test_eval_is_equal_in_both_frameworks(name: str, fastmri_dir: Path, tiny_split: None):
    jax_wl = load_workload(name, "jax", data_mode="real", **_kwargs(name))
    torch_wl = load_workload(name, "pytorch", data_mode="real", **_kwargs(name))
    params, _ = jax_wl.init_model_fn(rng_lib.PRNGKey(0))
    # Perturb so LayerNorm scale/bias are not the trivial 1/0.
    params = jax.tree.map(lambda p: p + 0.01 * np.cos(np.arange(p.size)).reshape(p.shape),
                          params)
    model, _ = torch_wl.init_model_fn(rng_lib.PRNGKey(0))
    names = [n for n, _ in model.named_parameters()]
    state = flax_to_torch_state(params, names, jax_wl.model_config["num_pool_layers"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})

    rng = rng_lib.PRNGKey(3)
    # Eval batches of 4 rows: 2 examples (the cap) and 2 rows of padding.
    res_jax = jax_wl.eval_model(4, params, None, rng, str(fastmri_dir), None, 0)
    res_torch = torch_wl.eval_model(4, model, None, rng, str(fastmri_dir), None, 0)
    assert set(res_jax) == set(res_torch) == {f"{s}/{m}" for s in ("train", "validation", "test")
                                              for m in ("ssim", "loss")}
    for key, value in res_jax.items():
        assert math.isfinite(value)
        assert res_torch[key] == pytest.approx(value, abs=1e-4), key
    expected = _numpy_eval(jax_wl._model, params, fastmri_dir, "validation", 2)
    assert res_jax["validation/ssim"] == pytest.approx(expected["ssim"], abs=1e-5)
    assert res_jax["validation/loss"] == pytest.approx(expected["loss"], abs=1e-5)
    assert 0 < res_jax["validation/ssim"] < 1


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", [w.name for w in WORKLOADS])
def test_nadamw_trains_on_real_format_volumes(train_few_steps, fastmri_dir: Path,
                                              tiny_split: None, name: str, framework: str):
    result = train_few_steps(name, framework, fastmri_dir, _kwargs(name), batch_size=2, steps=2)
    assert result.status == "completed", result.error
    assert result.global_step == 2
    rows = result.eval_rows
    assert rows and all(0 < r["validation/ssim"] < 1 and math.isfinite(r["test/loss"])
                        for r in rows)
