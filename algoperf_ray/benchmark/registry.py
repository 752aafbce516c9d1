"""Name -> workload lookups, discovered from ``workloads/*/metadata.py``.

Lookups of unknown names raise :class:`UnknownWorkloadError`, listing every
valid name. Framework classes are imported only when a workload is built, so
listing and describing workloads needs neither torch nor jax.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from algoperf_ray.benchmark.meta import WorkloadMeta

FRAMEWORKS = ("jax", "pytorch")


class UnknownWorkloadError(KeyError):
    """A workload name that no ``workloads/*/metadata.py`` declares."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class UnknownFrameworkError(ValueError):
    pass


@functools.cache
def all_workloads() -> dict[str, WorkloadMeta]:
    """Every declared workload, by name (base workloads, variants, dev ones)."""
    import algoperf_ray.workloads as pkg

    found: dict[str, WorkloadMeta] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"algoperf_ray.workloads.{info.name}.metadata")
        except ModuleNotFoundError as e:
            if e.name == f"algoperf_ray.workloads.{info.name}.metadata":
                continue
            raise
        for meta in getattr(module, "WORKLOADS", ()):
            if meta.name in found:
                raise ValueError(f"workload {meta.name!r} is declared twice "
                                 f"(in workloads/{info.name}/metadata.py and elsewhere)")
            found[meta.name] = meta
    return found


def get_meta(name: str) -> WorkloadMeta:
    """The metadata of ``name``; the error lists the valid names."""
    table = all_workloads()
    if name not in table:
        valid = ", ".join(sorted(table))
        raise UnknownWorkloadError(
            f"unknown workload {name!r}. Valid workloads: {valid}.")
    return table[name]


def check_framework(framework: str) -> str:
    if framework not in FRAMEWORKS:
        raise UnknownFrameworkError(
            f"unknown framework {framework!r}; choose one of: {', '.join(FRAMEWORKS)}.")
    return framework


def _import_class(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def load_workload(name: str, framework: str, **kwargs: Any) -> Any:
    """Instantiate the ``framework`` leaf class of workload ``name``.

    ``kwargs`` go to the class (for example ``data_mode="synthetic"``).
    """
    meta = get_meta(name)
    check_framework(framework)
    path = meta.class_path(framework)
    if not path:
        have = ", ".join(meta.frameworks) or "none (scoring metadata only)"
        raise UnknownFrameworkError(
            f"workload {name!r} has no {framework} implementation here; available: {have}.")
    cls = _import_class(path)
    return cls(meta=meta, **kwargs)


def reduced_size_kwargs(name: str) -> dict[str, Any]:
    """Constructor options of a CPU-sized ``name`` (its family's ``REDUCED_SIZE_KWARGS``).

    A variant without its own entry falls back to its base workload's; a
    family without the table gets ``{}`` (its full size).
    """
    meta = get_meta(name)
    module = importlib.import_module(f"algoperf_ray.workloads.{meta.family}.metadata")
    table = getattr(module, "REDUCED_SIZE_KWARGS", {})
    return dict(table.get(name, table.get(meta.base or "", {})))
