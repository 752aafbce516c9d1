"""criteo1tb models: parameter counts, train steps, JAX/PyTorch equivalence, eval on
tiny real-format data. Small tables (``vocab_size``) keep everything CPU-sized; the
full 4M-row table is only counted, via jax.eval_shape and PyTorch's meta device."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import torch

from algoperf_ray import spec
from algoperf_ray.benchmark import registry
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import metrics
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.criteo1tb.criteo1tb_torch import load_jax_params
from algoperf_ray.workloads.criteo1tb.metadata import WORKLOADS

VARIANTS = ["criteo1tb", "criteo1tb_layernorm", "criteo1tb_embed_init", "criteo1tb_resnet"]
FRAMEWORKS = ["jax", "pytorch"]
SMALL = {"vocab_size": 1024}
TRAIN, EVAL = spec.ForwardPassMode.TRAIN, spec.ForwardPassMode.EVAL


def _load(name: str, framework: str, **kw):
    return registry.load_workload(name, framework, **{"data_mode": "synthetic", **SMALL, **kw})


def _numpy(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("meta", WORKLOADS, ids=lambda m: m.name)
def test_full_size_param_count_matches_reference(meta, framework):
    workload = registry.load_workload(meta.name, framework, data_mode="synthetic")
    if framework == "jax":
        jax.eval_shape(workload.init_model_fn, rng_lib.PRNGKey(0))
    else:
        with torch.device("meta"):
            workload.init_model_fn(rng_lib.PRNGKey(0))
    assert param_utils.count_params(workload.param_shapes) == meta.num_params
    shapes = workload.param_shapes
    if framework == "jax":
        assert shapes["embedding_table"].shape_tuple == (workload.vocab_size, 128)
    else:
        assert [shapes[f"embedding_chunk_{i}"].shape_tuple for i in range(4)] == \
            [(workload.vocab_size // 4, 128)] * 4
    types = workload.model_params_types
    flat = types.values() if framework == "pytorch" else jax.tree_util.tree_leaves(types)
    assert sum(t == spec.ParameterType.EMBEDDING for t in flat) == (4 if framework == "pytorch"
                                                                   else 1)


def _loss_and_grads(workload, framework, params, batch, rng):
    """(summed train-mode loss, grads tree for JAX / None for PyTorch, {name: grad})."""
    if framework == "jax":
        def loss(p):
            logits, _ = workload.model_fn(p, batch, None, TRAIN, rng, False)
            return workload.loss_fn(batch["targets"], logits)["summed"]
        value, grads = jax.value_and_grad(loss)(params)
        flat = jax.tree_util.tree_flatten_with_path(grads)[0]
        return float(value), grads, {jax.tree_util.keystr(k): np.asarray(g) for k, g in flat}
    params.zero_grad()
    logits, _ = workload.model_fn(params, batch, None, TRAIN, rng, False)
    value = workload.loss_fn(batch["targets"], logits)["summed"]
    value.backward()
    return float(value.detach()), None, {n: p.grad.numpy().copy()
                                         for n, p in params.named_parameters()}


def _sgd(params, grads, lr):
    if grads is not None:  # JAX
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    with torch.no_grad():
        for p in params.parameters():
            p -= lr * p.grad
    return params


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_forward_backward(name, framework):
    workload = _load(name, framework)
    params, state = workload.init_model_fn(rng_lib.PRNGKey(1))
    assert state is None
    host = next(workload.host_batches("train", 0, None, 32, train=True))
    batch = workload._to_device(host, train=True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else rng_lib.PRNGKey(0)
    loss0, tree, grads = _loss_and_grads(workload, framework, params, batch, rng)
    assert np.isfinite(loss0)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    # Every layer gets gradient; the table only on the rows the batch looked up.
    assert all(np.any(g != 0) for n, g in grads.items() if "embedding" not in n)
    table = np.concatenate([g for n, g in sorted(grads.items()) if "embedding" in n])
    used = np.unique(host["inputs"][:, 13:].astype(np.int64) % SMALL["vocab_size"])
    assert np.any(table[used] != 0, axis=1).all()
    assert not np.delete(table, used, axis=0).any()
    params = _sgd(params, tree, 1e-3)
    loss1, _, _ = _loss_and_grads(workload, framework, params, batch, rng)
    assert loss1 < loss0


@pytest.mark.parametrize("name", VARIANTS)
def test_jax_and_pytorch_agree_with_the_same_weights(name):
    wj, wt = _load(name, "jax"), _load(name, "pytorch")
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(2))
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(3))
    load_jax_params(pt, jax.tree_util.tree_map(np.asarray, pj))
    host = next(wj.host_batches("validation", 5, None, 64, train=False))
    host["weights"][-7:] = 0.0  # masked rows must not count in either framework
    lj, _ = wj.model_fn(pj, wj._to_device(host, False), None, EVAL, None, False)
    lt, _ = wt.model_fn(pt, wt._to_device(host, False), None, EVAL, None, False)
    np.testing.assert_allclose(_numpy(lj), _numpy(lt), rtol=1e-4, atol=1e-4)
    dj = wj.loss_fn(host["targets"], lj, host["weights"])
    dt = wt.loss_fn(torch.as_tensor(host["targets"]), lt, torch.as_tensor(host["weights"]))
    np.testing.assert_allclose(float(dj["summed"]), float(dt["summed"]), rtol=1e-4)
    assert float(dj["n_valid_examples"]) == float(dt["n_valid_examples"]) == 57.0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_dropout_rate_only_acts_in_training(framework):
    workload = _load("criteo1tb_resnet", framework)
    params, _ = workload.init_model_fn(rng_lib.PRNGKey(0), dropout_rate=0.5)
    batch = workload._to_device(next(workload.host_batches("train", 0, None, 16, True)), True)
    rng = jax.random.PRNGKey(0) if framework == "jax" else rng_lib.PRNGKey(0)
    out = {(mode, rate): _numpy(workload.model_fn(params, batch, None, mode, rng, False,
                                                  dropout_rate=rate)[0])
           for mode in (TRAIN, EVAL) for rate in (None, 0.0)}
    np.testing.assert_allclose(out[(TRAIN, 0.0)], out[(EVAL, None)], rtol=1e-5, atol=1e-6)
    assert not np.allclose(out[(TRAIN, None)], out[(EVAL, None)])  # init's 0.5 is the default


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_synthetic_batches_have_real_shapes_and_valid_values(framework):
    workload = _load("criteo1tb", framework)
    batch = next(workload.host_batches("train", 0, None, 64, train=True))
    assert batch["inputs"].shape == (64, 39) and batch["inputs"].dtype == np.float32
    ids = batch["inputs"][:, 13:]
    assert np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() < SMALL["vocab_size"]
    assert set(np.unique(batch["targets"])) <= {0.0, 1.0}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_eval_end_to_end_on_real_format_files(framework, criteo_dir, criteo_counts):
    workload = registry.load_workload("criteo1tb", framework, data_mode="real", **SMALL)
    params, state = workload.init_model_fn(rng_lib.PRNGKey(4))
    results = workload.eval_model(16, params, state, rng_lib.PRNGKey(0), str(criteo_dir),
                                  None, global_step=0)
    assert set(results) == {"train/loss", "validation/loss", "test/loss"}
    # Expected: one unpadded batch of the whole split, loss averaged in numpy.
    n = criteo_counts["validation"]
    host = next(workload.host_batches("validation", 0, str(criteo_dir), n, train=False))
    logits, _ = workload.model_fn(params, workload._to_device(host, False), None, EVAL, None,
                                  False)
    expected = metrics.sigmoid_cross_entropy_np(_numpy(logits).reshape(-1), host["targets"])
    assert host["weights"].sum() == n
    np.testing.assert_allclose(results["validation/loss"], expected.mean(), rtol=1e-5)
    assert 0.0 < results["test/loss"] < 10.0 and 0.0 < results["train/loss"] < 10.0


def test_describe_reports_the_full_size_table_without_allocating_it():
    import json
    import subprocess

    proc = subprocess.run(["algoperf-ray", "describe", "criteo1tb_layernorm", "--framework",
                           "jax"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout)
    assert facts["num_params"] == facts["reference_num_params"] == 539_275_137
    assert facts["param_shapes"]["embedding_table"] == [4_194_304, 128]
    assert facts["batch_shapes"]["inputs"] == {"shape": [39], "dtype": "float32"}
    assert facts["validation_target"] == 0.123757 and facts["loss_type"] == "SIGMOID_CROSS_ENTROPY"


@pytest.mark.parametrize("repeat", [1, 6], ids=["routed", "concatenated"])
def test_chunked_lookup_equals_the_concatenated_table_forward_and_backward(repeat):
    """Each id is gathered from its own chunk (or, with more ids than table rows,
    from the concatenated table): the same rows and gradients as indexing the
    reference's concatenated table, for repeated ids, ids in every chunk and
    float ids past the vocabulary (taken modulo it)."""
    from algoperf_ray.workloads.criteo1tb.models_torch import DlrmSmall, lookup

    vocab = 64
    model = DlrmSmall(vocab_size=vocab, mlp_bottom_dims=(8, 4), mlp_top_dims=(8, 1),
                      embed_dim=4)
    ids = torch.tensor([[0, 15, 16, 31, 32, 63, 64, 127, 5, 5, 200] * repeat],
                       dtype=torch.float32)  # 11 ids (< 64 rows) or 66 (>= 64)
    grad = torch.randn(ids.numel(), 4)
    got = lookup(model, ids, vocab)
    got.backward(grad)
    chunks = [getattr(model, f"embedding_chunk_{i}") for i in range(4)]
    table = torch.cat([c.detach() for c in chunks]).requires_grad_(True)
    want = table[ids.to(torch.int32).reshape(-1).long() % vocab]
    want.backward(grad)
    assert torch.equal(got, want)
    assert torch.allclose(torch.cat([c.grad for c in chunks]), table.grad, atol=1e-6)
    assert table.grad[5].abs().sum() > 0 and torch.count_nonzero(table.grad.abs().sum(1)) == 8  # distinct rows
