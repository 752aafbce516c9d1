"""Name-based parameter kinds (``algoperf_ray.compat.param_utils``), both naming styles."""

from __future__ import annotations

import pytest

from algoperf_ray.compat import param_utils as pu
from algoperf_ray.spec import ParameterType as PT
from algoperf_ray.spec import ShapeTuple


def test_flax_tree_keeps_structure_and_classifies_by_scope():
    shapes = {
        "Conv_init": {"kernel": ShapeTuple((3, 3, 3, 64))},
        "BatchNorm_init": {"scale": ShapeTuple((64,)), "bias": ShapeTuple((64,))},
        "LayerNorm_0": {"scale": ShapeTuple((8,)), "bias": ShapeTuple((8,))},
        "Embed_0": {"embedding": ShapeTuple((100, 8))},
        "MultiHeadDotProductAttention_0": {
            "query": {"kernel": ShapeTuple((8, 2, 4)), "bias": ShapeTuple((2, 4))},
            "key": {"kernel": ShapeTuple((8, 2, 4))},
            "value": {"kernel": ShapeTuple((8, 2, 4))},
            "out": {"kernel": ShapeTuple((2, 4, 8))}},
        "Dense_0": {"kernel": ShapeTuple((8, 10)), "bias": ShapeTuple((10,))},
    }
    types = pu.jax_param_types(shapes)
    assert types == {
        "Conv_init": {"kernel": PT.CONV_WEIGHT},
        "BatchNorm_init": {"scale": PT.BATCH_NORM_SCALE, "bias": PT.BATCH_NORM_BIAS},
        "LayerNorm_0": {"scale": PT.LAYER_NORM_SCALE, "bias": PT.LAYER_NORM_BIAS},
        "Embed_0": {"embedding": PT.EMBEDDING},
        "MultiHeadDotProductAttention_0": {
            "query": {"kernel": PT.ATTENTION_Q, "bias": PT.ATTENTION_BIAS},
            "key": {"kernel": PT.ATTENTION_K}, "value": {"kernel": PT.ATTENTION_V},
            "out": {"kernel": PT.ATTENTION_OUT}},
        "Dense_0": {"kernel": PT.WEIGHT, "bias": PT.BIAS},
    }
    assert pu.count_params(shapes) == 3 * 3 * 3 * 64 + 128 + 16 + 800 + 64 + 8 + 64 * 3 + 90


def test_pytorch_names():
    names = ["conv1.weight", "bn1.weight", "bn1.bias", "layer2.0.downsample.conv.weight",
             "layer2.0.downsample.bn.bias", "encoder.layer_norm.weight", "embedding.weight",
             "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
             "self_attn.k_proj.weight", "fc.weight", "fc.bias"]
    types = pu.pytorch_param_types(dict.fromkeys(names, ShapeTuple((1,))))
    assert list(types.values()) == [
        PT.CONV_WEIGHT, PT.BATCH_NORM_SCALE, PT.BATCH_NORM_BIAS, PT.CONV_WEIGHT,
        PT.BATCH_NORM_BIAS, PT.LAYER_NORM_SCALE, PT.EMBEDDING, PT.ATTENTION_QKV,
        PT.ATTENTION_BIAS, PT.ATTENTION_OUT, PT.ATTENTION_K, PT.WEIGHT, PT.BIAS]


def test_unknown_norm_or_attention_parameter_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'/batchnorm_0/mean'"):
        pu.jax_param_types({"BatchNorm_0": {"mean": ShapeTuple((2,))}})
    with pytest.raises(ValueError, match="attention parameter 'attn/weird'"):
        pu.pytorch_param_types({"attn.weird": ShapeTuple((2,))})
    with pytest.raises(ValueError, match="init_model_fn"):
        pu.pytorch_param_types(None)
