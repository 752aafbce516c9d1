"""ViT-S/16 models: reference names, shapes, counts and init, in both frameworks.

Full-size checks allocate nothing (``describe``: ``jax.eval_shape`` and
PyTorch's meta device); the counts are compared with the metadata's
layer-size formula and the names with the reference's naming scheme.
"""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray import spec
from algoperf_ray.benchmark.describe import describe
from algoperf_ray.benchmark.registry import get_meta, load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.imagenet_vit.metadata import REDUCED_SIZE_KWARGS, WORKLOADS

NAMES = [w.name for w in WORKLOADS]
PT = spec.ParameterType
EXPECTED = {"imagenet_vit": 22_122_472, "imagenet_vit_glu": 50_452_456,
            "imagenet_vit_post_ln": 22_121_704, "imagenet_vit_map": 23_896_552}


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("name", NAMES)
def test_full_size_count_matches_reference(name, framework):
    facts = describe(name, framework)
    assert facts["num_params"] == get_meta(name).num_params == EXPECTED[name]
    shapes = facts["param_shapes"]
    cfg = get_meta(name).model_kwargs
    if framework == "jax":
        block = "Transformer/encoderblock_11"
        assert shapes[f"{block}/MultiHeadDotProductAttention_1/query/kernel"] == [384, 6, 64]
        assert shapes["conv_patch_extract/kernel"] == [16, 16, 3, 384]
        assert shapes["head/kernel"] == [384, 1000]
        assert (f"{block}/MlpBlock_3/Dense_2/kernel" in shapes) == cfg["use_glu"]
        assert ("Transformer/encoder_layernorm/scale" in shapes) != cfg["use_post_layer_norm"]
        assert ("MAPHead_0/probe" in shapes) == cfg["use_map"]
    else:
        assert shapes["encoder.net.11.self_attention1.query.weight"] == [384, 384]
        assert shapes["conv_patch_extract.weight"] == [384, 3, 16, 16]
        assert ("encoder.net.0.mlp3.glu_linear.weight" in shapes) == cfg["use_glu"]
        assert ("encoder.encoder_norm.weight" in shapes) != cfg["use_post_layer_norm"]
        assert ("map.mha.kv_proj.weight" in shapes) == cfg["use_map"]
        assert list(shapes)[:2] == ["pre_logits.weight", "pre_logits.bias"]  # reference order


@pytest.mark.parametrize("name", NAMES)
def test_init_jax(name):
    wl = load_workload(name, "jax", data_mode="synthetic", **REDUCED_SIZE_KWARGS[name])
    params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    assert state is None
    assert np.all(np.asarray(params["head"]["kernel"]) == 0)
    mlp_bias = np.asarray(params["Transformer"]["encoderblock_0"]["MlpBlock_3"]["Dense_0"]["bias"])
    assert 0 < np.abs(mlp_bias).max() < 1e-4  # N(0, 1e-6)
    types = wl.model_params_types
    attn = types["Transformer"]["encoderblock_0"]["MultiHeadDotProductAttention_1"]
    assert attn["query"]["kernel"] == PT.ATTENTION_Q
    assert types["Transformer"]["encoderblock_0"]["LayerNorm_0"]["scale"] == \
        PT.LAYER_NORM_SCALE
    assert wl.is_output_params("head") and not wl.is_output_params("pre_logits")


@pytest.mark.parametrize("name", NAMES)
def test_init_pytorch(name):
    wl = load_workload(name, "pytorch", data_mode="synthetic", **REDUCED_SIZE_KWARGS[name])
    model, state = wl.init_model_fn(rng_lib.PRNGKey(0))
    assert state is None
    named = dict(model.named_parameters())
    assert not named["head.weight"].detach().any()
    bias = named["encoder.net.0.mlp3.linear1.bias"].detach().numpy()
    assert 0 < np.abs(bias).max() < 1e-4
    assert not named["encoder.net.0.self_attention1.query.bias"].detach().any()
    assert wl.model_params_types["encoder.net.0.layer_norm0.weight"] == PT.LAYER_NORM_SCALE
    assert wl.is_output_params("head.weight")


@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_bad_sizes_are_rejected(framework):
    with pytest.raises(ValueError, match="patch_size"):
        load_workload("imagenet_vit", framework, data_mode="synthetic", image_size=30,
                      patch_size=8)
    with pytest.raises(TypeError, match="unknown option"):
        load_workload("imagenet_vit", framework, data_mode="synthetic", num_filters=8)
