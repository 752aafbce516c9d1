"""Legacy pmap layout for JAX workloads: a leading device axis on params and batches.

v0.5/v0.6-era submissions call ``jax.pmap`` themselves, so the workload must
hand them what the pmap-era reference did:

* ``init_model_fn`` returns params and model state with a leading axis of
  ``jax.local_device_count()`` identical copies (``jax_utils.replicate``);
* train batches arrive as ``[local_devices, per_device_batch, ...]``, each
  device's slice already on that device;
* ``model_fn`` is the unchanged per-device function: inside the
  submission's pmap it sees unreplicated params and one device's rows.

Evals are the jit path of :class:`~algoperf_ray.workload.placement_jax.JaxPlacement`
on unreplicated params: device 0's copy of the params (pmean'd gradients
keep all copies equal) and the device *mean* of float model state (per-device
batch-norm statistics, which the pmap-era reference also averaged before
evaluating). Written once, as a mixin put in front of any JAX leaf class by
:func:`enable_legacy_pmap`, so no family carries pmap code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from algoperf_ray.workload import sharding_jax
from algoperf_ray.workload.placement_jax import JaxPlacement

DEVICE_AXIS = "devices"


def _device_sharding() -> NamedSharding:
    """Leading axis split over this process's devices, one slice each (pmap's layout)."""
    return NamedSharding(Mesh(np.array(jax.local_devices()), (DEVICE_AXIS,)), P(DEVICE_AXIS))


def replicate(tree: Any) -> Any:
    """Each leaf stacked ``local_device_count`` times along a new axis 0, one copy per device."""
    n, sharding = jax.local_device_count(), _device_sharding()

    def one(x: Any) -> Any:
        host = np.asarray(jax.device_get(x))
        return jax.device_put(np.broadcast_to(host, (n, *host.shape)).copy(), sharding)

    return jax.tree_util.tree_map(one, tree)


def unreplicate_params(tree: Any) -> Any:
    """Device 0's copy of every leaf, replicated on the jit mesh for the eval path."""
    return sharding_jax.replicate(jax.tree_util.tree_map(lambda x: jnp.asarray(x)[0], tree))


def unreplicate_state(tree: Any) -> Any:
    """Float leaves averaged over devices (per-device BN stats), other leaves from device 0."""
    def one(x: Any) -> Any:
        x = jnp.asarray(x)
        return x.mean(axis=0) if jnp.issubdtype(x.dtype, jnp.floating) else x[0]

    return sharding_jax.replicate(jax.tree_util.tree_map(one, tree))


def split_rows(batch: Any, num_devices: int) -> Any:
    """Host arrays ``[rows, ...]`` -> ``[num_devices, rows / num_devices, ...]``."""
    def one(x: Any) -> Any:
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] % num_devices:
            raise ValueError(f"legacy pmap mode: a train batch field of shape {x.shape} does "
                             f"not split over {num_devices} devices; the global batch size "
                             "from get_batch_size must be a multiple of the device count.")
        return x.reshape(num_devices, x.shape[0] // num_devices, *x.shape[1:])

    return jax.tree_util.tree_map(one, batch)


class PmapJaxPlacement(JaxPlacement):
    """JAX placement whose train batches take pmap's ``[devices, per_device, ...]`` layout.

    Eval batches stay global and batch-sharded (the jit eval path), and
    :meth:`compile_eval` unreplicates params and model state before eval.
    """

    legacy_pmap = True

    def put(self, batch: Any, train: bool) -> Any:
        if not train:
            return super().put(batch, train)
        return jax.device_put(split_rows(batch, self.num_shards), _device_sharding())

    def compile_eval(self, fn: Callable[..., Any], jit: bool = True) -> Callable[..., Any]:
        run = super().compile_eval(fn, jit=jit)

        def unreplicated(params: Any, model_state: Any, *rest: Any) -> Any:
            state = None if model_state is None else unreplicate_state(model_state)
            return run(unreplicate_params(params), state, *rest)

        return unreplicated


_PLACEMENT: PmapJaxPlacement | None = None
_CLASSES: dict[type, type] = {}


def pmap_placement() -> PmapJaxPlacement:
    global _PLACEMENT
    if _PLACEMENT is None:
        _PLACEMENT = PmapJaxPlacement()
    return _PLACEMENT


class LegacyPmapMixin:
    """Put in front of a JAX leaf class: replicated init, pmap batches, unreplicated evals."""

    legacy_pmap = True

    @property
    def placement(self) -> PmapJaxPlacement:
        return pmap_placement()

    def init_model_fn(self, rng: Any, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, Any]:
        params, model_state = super().init_model_fn(  # type: ignore[misc]
            rng, dropout_rate, aux_dropout_rate)
        return replicate(params), None if model_state is None else replicate(model_state)

    def _to_device(self, batch: Any, train: bool) -> Any:
        """Train batches go to the placement as the host built them.

        Host pipelines already build a global batch as per-shard parts (ogbg
        packs one graph per shard with shard-local node indices), which is
        exactly one device's input under pmap; a family's own ``_to_device``
        (which makes those parts one global array) applies to evals only.
        """
        if train:
            return self.placement.put(batch, train=True)
        return super()._to_device(batch, train)  # type: ignore[misc]


# Top-level tree helpers that pmap-era submissions call and newer JAX removed.
_REMOVED_TREE_NAMES = ("tree_map", "tree_leaves", "tree_flatten", "tree_unflatten",
                       "tree_structure")


def restore_removed_jax_names() -> list[str]:
    """Put back ``jax.tree_map`` & co. (as ``jax.tree_util``'s) where this JAX lacks them.

    Only legacy mode does this, and only for names JAX no longer has, so a
    current submission never sees a change; returns the names restored.
    """
    restored = []
    for name in _REMOVED_TREE_NAMES:
        try:
            getattr(jax, name)
        except AttributeError:
            setattr(jax, name, getattr(jax.tree_util, name))
            restored.append(name)
    return restored


def enable_legacy_pmap(workload: Any) -> Any:
    """Switch a built JAX workload to the legacy pmap layout (idempotent), and return it.

    The instance's class becomes a subclass with :class:`LegacyPmapMixin` in
    front, so every base-class path (eval loop, input queue) sees the new
    placement without any family knowing about pmap.
    """
    cls = type(workload)
    if getattr(workload, "framework", None) != "jax":
        raise ValueError(f"legacy pmap mode needs a JAX workload; {cls.__name__} has "
                         f"framework {getattr(workload, 'framework', None)!r}.")
    if isinstance(workload, LegacyPmapMixin):
        return workload
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"LegacyPmap{cls.__name__}", (LegacyPmapMixin, cls),
                             {"__module__": cls.__module__, "__doc__": cls.__doc__})
    workload.__class__ = _CLASSES[cls]
    restore_removed_jax_names()
    for key in [k for k in vars(workload) if k.startswith("_compiled")]:
        del workload.__dict__[key]  # eval functions compiled for the old placement
    return workload
