"""Copy Flax weights into the PyTorch twin of a dev workload's model.

Used by the JAX-vs-PyTorch equivalence tests: the same weights must give
the same logits and loss in both frameworks. Each PyTorch leaf class maps a
PyTorch module name to its Flax path (``jax_path``); layouts are converted
per layer kind: Linear weight = Dense kernel transposed, Conv2d weight =
Conv kernel HWIO -> OIHW, BatchNorm weight/bias/running stats = Flax
scale/bias and ``batch_stats`` mean/var. Imports torch and numpy only;
JAX arrays are read through ``numpy.asarray``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def _lookup(tree: Mapping[str, Any], path: tuple[str, ...], what: str) -> Mapping[str, Any]:
    node: Any = tree
    for key in path:
        if key not in node:
            raise KeyError(f"{what} has no {'/'.join(path)!r} (missing {key!r}; "
                           f"have {sorted(node)}).")
        node = node[key]
    return node


def _layer_tensors(module: Any, p: Mapping[str, Any], stats: Mapping[str, Any] | None
                   ) -> dict[str, np.ndarray]:
    from torch import nn

    if isinstance(module, nn.Linear):
        out = {"weight": np.asarray(p["kernel"]).T}
    elif isinstance(module, nn.Conv2d):
        out = {"weight": np.asarray(p["kernel"]).transpose(3, 2, 0, 1)}
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        out = {"weight": np.asarray(p["scale"])}
        if stats is not None:
            out.update(running_mean=np.asarray(stats["mean"]), running_var=np.asarray(stats["var"]))
    else:
        raise TypeError(f"no Flax->PyTorch rule for {type(module).__name__}.")
    if "bias" in p:
        out["bias"] = np.asarray(p["bias"])
    return out


def load_flax_into_torch(model: Any, params: Mapping[str, Any], model_state: Any,
                         jax_path: Callable[[str], tuple[str, ...]]) -> None:
    """Overwrite ``model``'s parameters (and BN buffers) with Flax ``params``.

    Raises if any PyTorch parameter is left without a Flax counterpart or a
    shape disagrees, so a wrong mapping can never pass silently.
    """
    import torch

    model = getattr(model, "module", model)
    batch_stats = (model_state or {}).get("batch_stats")
    state = model.state_dict()
    filled = set()
    for name, module in model.named_modules():
        if not list(module.parameters(recurse=False)):
            continue
        path = jax_path(name)
        stats = _lookup(batch_stats, path, "batch_stats") if batch_stats is not None \
            and "running_mean" in dict(module.named_buffers()) else None
        for leaf, value in _layer_tensors(module, _lookup(params, path, "params"), stats).items():
            key = f"{name}.{leaf}"
            if tuple(state[key].shape) != value.shape:
                raise ValueError(f"shape mismatch for {key}: torch {tuple(state[key].shape)} "
                                 f"vs flax {'/'.join(path)} {value.shape}.")
            state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
            filled.add(key)
    missing = [k for k, _ in model.named_parameters() if k not in filled]
    if missing:
        raise KeyError(f"PyTorch parameters without a Flax counterpart: {missing}.")
    model.load_state_dict(state)
