"""Parameter kinds (``spec.ParameterType``) and shapes from parameter names.

Submissions read ``workload.model_params_types`` to treat kinds differently
(no weight decay on biases and norm scales, per-kind learning rates, ...), so
every workload must classify its parameters the same way the public AlgoPerf
harness does. The classification is name-based, as in the reference: a
parameter's kind follows from the names of its enclosing modules and its own
leaf name (``Conv_0/kernel``, ``bn1.weight``, ``attention/query/kernel``).

The rules are written once, as data (:data:`_NORM_RULES`,
:data:`_ATTENTION_RULES`), and shared by both frameworks; only the way a
name is split into (scope, leaf) differs: Flax trees nest dicts
(``{"Dense_0": {"kernel": ...}}``), PyTorch flattens with dots
(``"net.0.weight"``). Nothing here imports torch or jax at module import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from algoperf_ray import spec

PT = spec.ParameterType

# (scope substrings, scale type, bias type): which normalisation layer owns a
# parameter. Batch norm is checked before layer norm so that "bn" wins.
_NORM_RULES = (
    (("batchnorm", "bn"), PT.BATCH_NORM_SCALE, PT.BATCH_NORM_BIAS),
    (("layernorm", "norm", "ln"), PT.LAYER_NORM_SCALE, PT.LAYER_NORM_BIAS),
)

# (substrings of the full name, type) for weights of attention layers, first
# match wins; "in_proj" (PyTorch's MultiheadAttention) and "qkv" are fused q/k/v projections.
_ATTENTION_RULES = (
    (("in_proj", "qkv"), PT.ATTENTION_QKV),
    (("kv_proj",), PT.ATTENTION_KV),
    (("k_proj", "key"), PT.ATTENTION_K),
    (("q_proj", "query"), PT.ATTENTION_Q),
    (("v_proj", "value"), PT.ATTENTION_V),
    (("out", "w_o"), PT.ATTENTION_OUT),
)


def classify(scope: str, leaf: str) -> spec.ParameterType:
    """Kind of the parameter ``leaf`` inside module path ``scope``.

    ``scope`` and ``leaf`` are compared lower-cased. Raises ``ValueError``
    naming the parameter when a norm or attention layer holds a parameter
    the rules do not know (a silent WEIGHT there would change what a
    submission does to it).
    """
    scope, leaf = scope.lower(), leaf.lower()
    full = f"{scope}/{leaf}"
    is_scale = leaf in ("scale", "weight", "gamma") or "scale" in leaf
    is_bias = "bias" in leaf or leaf == "beta"
    for markers, scale_type, bias_type in _NORM_RULES:
        if any(m in scope for m in markers):
            if is_scale:
                return scale_type
            if is_bias:
                return bias_type
            raise ValueError(f"unrecognised normalisation parameter {full!r}: expected a "
                             "'scale'/'weight' or 'bias' leaf.")
    if "conv" in scope:
        return PT.BIAS if is_bias else PT.CONV_WEIGHT
    if "embedding" in leaf or ("embed" in scope and leaf in ("kernel", "weight")):
        return PT.EMBEDDING
    if "attention" in scope or "attn" in scope:
        return _attention_type(scope, leaf, is_bias, full)
    return PT.BIAS if is_bias else PT.WEIGHT


def _attention_type(scope: str, leaf: str, is_bias: bool, full: str) -> spec.ParameterType:
    if is_bias:
        return PT.ATTENTION_BIAS
    for markers, kind in _ATTENTION_RULES:
        if any(m in full for m in markers):
            return kind
    if "scale" in leaf:
        return PT.WEIGHT
    raise ValueError(f"unrecognised attention parameter {full!r}: name the projection "
                     "query/key/value/out (or q_proj/k_proj/v_proj/in_proj).")


def jax_param_types(param_shapes: Mapping[str, Any], parent_name: str = "") -> dict[str, Any]:
    """Tree of ``ParameterType`` with the same structure (and keys) as ``param_shapes``.

    Works on any nested mapping (dict or Flax ``FrozenDict``) whose leaves are
    shapes or arrays; leaves are classified by their key and the ``/``-joined
    names of the enclosing mappings.
    """
    types: dict[str, Any] = {}
    for name, value in param_shapes.items():
        if isinstance(value, Mapping):
            types[name] = jax_param_types(value, f"{parent_name}/{name}")
        else:
            types[name] = classify(parent_name, str(name))
    return types


def pytorch_param_types(named_param_shapes: Mapping[str, Any]) -> dict[str, spec.ParameterType]:
    """``{name: ParameterType}`` for PyTorch ``named_parameters()``-style names."""
    if named_param_shapes is None:
        raise ValueError("no parameter shapes: call workload.init_model_fn() before reading "
                         "workload.model_params_types.")
    types = {}
    for name in named_param_shapes:
        scope, _, leaf = name.rpartition(".")
        types[name] = classify(scope, leaf)
    return types


def pytorch_param_shapes(model: Any) -> dict[str, spec.ShapeTuple]:
    """``{name: ShapeTuple}`` of an ``nn.Module`` (DDP wrappers included)."""
    model = getattr(model, "module", model)
    return {k: spec.ShapeTuple(tuple(v.shape)) for k, v in model.named_parameters()}


def jax_param_shapes(params: Any) -> Any:
    """Tree of ``ShapeTuple`` with the structure of a JAX parameter pytree."""
    import jax

    return jax.tree_util.tree_map(lambda x: spec.ShapeTuple(tuple(x.shape)), params)


def count_params(shapes: Any) -> int:
    """Number of scalars in a shape tree/dict (``ShapeTuple`` or array leaves)."""
    if isinstance(shapes, Mapping):
        return sum(count_params(v) for v in shapes.values())
    dims = shapes.shape_tuple if isinstance(shapes, spec.ShapeTuple) else tuple(shapes.shape)
    n = 1
    for d in dims:
        n *= int(d)
    return n
