"""Map U-Net weights between the Flax tree and the PyTorch state dict (numpy only).

The equivalence tests copy Flax weights into the PyTorch model with this, and
expect the same outputs. The layer correspondence follows from how both
models are built (see ``models_jax`` / ``models_torch``):

* ``down_sample_layers.<i>`` = ``ConvBlock_<i>``, ``conv`` = ``ConvBlock_<n>``;
* ``up_transpose_conv.<i>`` = ``TransposeConvBlock_<i>``;
* ``up_conv.<i>`` = ``ConvBlock_<n+1+i>`` (the last one is ``up_conv.<n-1>.0``),
  and ``up_conv.<n-1>.1`` = the top-level ``Conv_0``;
* inside a block, sequential slots 0/4 = ``Conv_0/1`` and 1/5 = ``LayerNorm_0/1``.

Layouts: conv kernels HWIO -> OIHW; a transposed conv's kernel (H, W, in, out)
becomes PyTorch's (in, out, H, W) rotated by 180 degrees, because Flax's
``ConvTranspose`` (``transpose_kernel=False``) applies the kernel unflipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_SLOT = {"0": "Conv_0", "4": "Conv_1", "1": "LayerNorm_0", "5": "LayerNorm_1"}


def flax_path(torch_name: str, num_pool_layers: int) -> tuple[str, ...]:
    """The Flax path (module names then leaf) of one PyTorch parameter name."""
    parts = torch_name.split(".")
    n = num_pool_layers
    head, leaf = parts[0], parts[-1]
    if head == "up_transpose_conv":
        return (f"TransposeConvBlock_{parts[1]}", "ConvTranspose_0", "kernel")
    if head == "up_conv" and int(parts[1]) == n - 1:
        if parts[2] == "1":
            return ("Conv_0", "kernel" if leaf == "weight" else "bias")
        block, rest = 2 * n, parts[3:]
    elif head == "up_conv":
        block, rest = n + 1 + int(parts[1]), parts[2:]
    elif head == "down_sample_layers":
        block, rest = int(parts[1]), parts[2:]
    elif head == "conv":
        block, rest = n, parts[1:]
    else:
        raise KeyError(f"fastmri convert: no Flax counterpart for PyTorch parameter {torch_name!r}.")
    if rest[0] != "conv_layers" or rest[1] not in _SLOT:
        raise KeyError(f"fastmri convert: unexpected conv-block parameter {torch_name!r}.")
    layer = _SLOT[rest[1]]
    name = {"weight": "kernel" if layer.startswith("Conv") else "scale"}.get(leaf, leaf)
    return (f"ConvBlock_{block}", layer, name)


def _torch_layout(path: tuple[str, ...], value: np.ndarray) -> np.ndarray:
    if path[-1] != "kernel":
        return value
    if path[-2].startswith("ConvTranspose"):
        return value[::-1, ::-1].transpose(2, 3, 0, 1)
    return value.transpose(3, 2, 0, 1)


def flax_to_torch_state(params: Mapping[str, Any], torch_names: list[str],
                        num_pool_layers: int) -> dict[str, np.ndarray]:
    """A ``{torch name: array}`` state dict holding the Flax ``params``.

    Raises ``KeyError`` when a PyTorch name has no Flax counterpart or a Flax
    leaf is left unused, so a wrong mapping cannot pass silently.
    """
    out: dict[str, np.ndarray] = {}
    used: set[tuple[str, ...]] = set()
    for name in torch_names:
        path = flax_path(name, num_pool_layers)
        node: Any = params
        for key in path:
            if key not in node:
                raise KeyError(f"fastmri convert: Flax params have no {'/'.join(path)!r} "
                               f"(for {name!r}).")
            node = node[key]
        out[name] = np.array(_torch_layout(path, np.asarray(node)), np.float32, order="C")
        used.add(path)
    leaves = _leaf_paths(params)
    if leaves - used:
        raise KeyError(f"fastmri convert: Flax leaves without a PyTorch counterpart: "
                       f"{sorted('/'.join(p) for p in leaves - used)}.")
    return out


def _leaf_paths(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for key, value in tree.items():
        if isinstance(value, Mapping):
            paths |= _leaf_paths(value, (*prefix, key))
        else:
            paths.add((*prefix, key))
    return paths
