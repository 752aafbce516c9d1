"""ogbg GNNs: parameter counts/shapes, train steps, JAX <-> PyTorch equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark import describe, registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.ogbg import convert
from algoperf_ray.workloads.ogbg import input_pipeline as ip
from algoperf_ray.workloads.ogbg.metadata import REDUCED_SIZE_KWARGS

VARIANTS = ["ogbg", "ogbg_gelu", "ogbg_silu", "ogbg_model_size"]
FRAMEWORKS = ["jax", "pytorch"]


def _workload(name: str, framework: str, **kw: object):
    return registry.load_workload(name, framework, data_mode="synthetic",
                                  **{**REDUCED_SIZE_KWARGS[name], **kw})


def _batch(workload, size: int = 8, seed: int = 0):
    return next(iter(workload._build_input_queue(rng_lib.PRNGKey(seed), "train", None, size)))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_param_count_matches_reference(name: str, framework: str) -> None:
    facts = describe.describe(name, framework)
    assert facts["num_params"] == registry.get_meta(name).num_params


@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_param_shapes_equal_across_frameworks(name: str) -> None:
    jax_shapes = describe.describe(name, "jax")["param_shapes"]
    torch_shapes = describe.describe(name, "pytorch")["param_shapes"]
    cfg = registry.get_meta(name).model_kwargs
    pairs = convert.name_map(cfg["hidden_dims"], cfg["num_message_passing_steps"])
    mapped = {}
    for flax_name, torch_name in pairs.items():
        leaf = "kernel" if flax_name.startswith(("Dense", "node_", "edge_")) else "scale"
        mapped[f"{torch_name}.weight"] = jax_shapes[f"{flax_name}/{leaf}"][::-1]
        mapped[f"{torch_name}.bias"] = jax_shapes[f"{flax_name}/bias"]
    assert mapped == torch_shapes
    assert len(jax_shapes) == len(torch_shapes)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_forward_backward(name: str, framework: str) -> None:
    """One SGD step on a batch lowers that batch's loss; every parameter gets a gradient."""
    w = _workload(name, framework)
    params, state = w.init_model_fn(rng_lib.PRNGKey(0), dropout_rate=0.0)
    batch = _batch(w)
    if framework == "jax":
        import jax

        def loss(p):
            logits, _ = w.model_fn(p, batch, state, spec.ForwardPassMode.TRAIN,
                                   jax.random.PRNGKey(1), False)
            out = w.loss_fn(batch["targets"], logits, batch["weights"])
            return out["summed"] / out["n_valid_examples"]

        @jax.jit
        def step(p):
            value, grads = jax.value_and_grad(loss)(p)
            return value, grads, loss(jax.tree_util.tree_map(lambda a, g: a - 0.05 * g, p, grads))

        before, grads, after = step(params)
        norms = [float(np.abs(g).sum()) for g in jax.tree_util.tree_leaves(grads)]
    else:
        import torch

        def loss():
            logits, _ = w.model_fn(params, batch, state, spec.ForwardPassMode.TRAIN, None, False)
            out = w.loss_fn(batch["targets"], logits, batch["weights"])
            return out["summed"] / out["n_valid_examples"]

        before = loss()
        before.backward()
        norms = [float(p.grad.abs().sum()) for p in params.parameters()]
        with torch.no_grad():
            for p in params.parameters():
                p -= 0.05 * p.grad
            after = loss()
        before = before.detach()
    assert np.isfinite(float(before))
    assert all(n > 0 for n in norms), "a parameter received no gradient"
    assert float(after) < float(before)


def _jax_and_torch(name: str):
    import torch

    jw, tw = _workload(name, "jax"), _workload(name, "pytorch")
    jparams, _ = jw.init_model_fn(rng_lib.PRNGKey(3))
    tmodel, _ = tw.init_model_fn(rng_lib.PRNGKey(4))
    cfg = jw.model_config
    sd = convert.jax_to_torch(jparams, cfg["hidden_dims"], cfg["num_message_passing_steps"])
    tmodel.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    return jw, tw, jparams, tmodel


@pytest.mark.parametrize("name", VARIANTS)
def test_same_weights_same_outputs(name: str) -> None:
    jw, tw, jparams, tmodel = _jax_and_torch(name)
    host = next(ip.batch_graphs(ip.synthetic_graphs(5), 16, 1, pad_last=True))
    jlogits = jw._compiled("_eval_outputs")(jparams, None, jw._to_device(host, train=False), None)["logits"]
    tlogits = tw._compiled("_eval_outputs")(tmodel, None, tw._to_device(host, train=False), None)["logits"]
    assert jlogits.shape == (17, 128)
    assert np.abs(jlogits).max() > 1e-2
    np.testing.assert_allclose(tlogits, jlogits, atol=2e-4, rtol=2e-4)
    # Same losses (with label smoothing) through each framework's loss_fn.
    jl = jw.loss_fn(jw._to_device(host, False)["targets"], jlogits, host["weights"], 0.1)
    import torch

    tl = tw.loss_fn(torch.from_numpy(host["targets"]), torch.from_numpy(tlogits),
                    torch.from_numpy(host["weights"]), 0.1)
    assert float(jl["n_valid_examples"]) == float(tl["n_valid_examples"]) == host["weights"].sum()
    assert float(tl["summed"]) == pytest.approx(float(jl["summed"]), rel=1e-4)


def test_converters_round_trip() -> None:
    _, tw, jparams, tmodel = _jax_and_torch("ogbg_model_size")
    cfg = tw.model_config
    back = convert.torch_to_jax(tmodel.state_dict(), cfg["hidden_dims"],
                                cfg["num_message_passing_steps"])
    import jax

    flat_a = jax.tree_util.tree_leaves_with_path(back)
    flat_b = dict(jax.tree_util.tree_leaves_with_path(jparams))
    assert len(flat_a) == len(flat_b)
    for path, leaf in flat_a:
        np.testing.assert_array_equal(leaf, np.asarray(flat_b[path]))


def test_output_params_and_param_types() -> None:
    jw, tw = _workload("ogbg", "jax"), _workload("ogbg", "pytorch")
    jparams, _ = jw.init_model_fn(rng_lib.PRNGKey(0))
    tw.init_model_fn(rng_lib.PRNGKey(0))
    last = [k for k in jparams if jw.is_output_params(k)]
    assert last == ["Dense_6"]  # 2 steps x 3 MLPs x 1 layer, then the decoder
    assert jparams["Dense_6"]["kernel"].shape == (32, 128)
    assert tw.is_output_params("decoder.weight") and not tw.is_output_params("edge_embedder.bias")
    assert jw.model_params_types["LayerNorm_0"]["scale"] == spec.ParameterType.LAYER_NORM_SCALE
    types = tw.model_params_types
    assert types["graph_network.0.update_edge_fn.norm_0.weight"] == \
        spec.ParameterType.LAYER_NORM_SCALE
    assert types["decoder.bias"] == spec.ParameterType.BIAS


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="unknown option.*latent"):
        registry.load_workload("ogbg", "jax", data_mode="synthetic", latent=3)
