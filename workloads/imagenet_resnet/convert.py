"""Flax -> PyTorch weight mapping for the ResNet (equivalence tests, porting).

Maps each PyTorch module name of :mod:`.models_torch` to its Flax path in
:mod:`.models_jax`; the per-layer layout rules live in
:func:`algoperf_ray.workloads._convert.load_flax_into_torch`. Bottleneck
blocks are numbered across stages in Flax (``BottleneckResNetBlock_<i>``)
and per stage in PyTorch (``layer<s>.<b>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_TOP = {"conv1": "Conv_init", "bn1": "BatchNorm_init", "fc": "Dense_0"}
_INNER = {"conv1": "Conv_0", "bn1": "BatchNorm_0", "conv2": "Conv_1", "bn2": "BatchNorm_1",
          "conv3": "Conv_2", "bn3": "BatchNorm_2", "downsample.conv": "Conv_proj",
          "downsample.bn": "BatchNorm_proj"}


def jax_path_fn(stage_sizes: Sequence[int]) -> Callable[[str], tuple[str, ...]]:
    """``module name -> Flax path`` for a ResNet with these stage sizes."""
    offsets = [sum(stage_sizes[:i]) for i in range(len(stage_sizes))]

    def jax_path(module_name: str) -> tuple[str, ...]:
        if module_name in _TOP:
            return (_TOP[module_name],)
        layer, block, *rest = module_name.split(".")
        index = offsets[int(layer.removeprefix("layer")) - 1] + int(block)
        return (f"BottleneckResNetBlock_{index}", _INNER[".".join(rest)])

    return jax_path
