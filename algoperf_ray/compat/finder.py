"""The ``sys.meta_path`` finder/loader behind :mod:`algoperf_ray.compat`."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from importlib.machinery import ModuleSpec
from typing import Any

# Package roots public submissions import from (current name, legacy name).
ROOTS = ("algoperf", "algorithmic_efficiency")

# Submodule name -> the module of this project that plays its role.
ALIASES: dict[str, str] = {
    "spec": "algoperf_ray.spec",
    "pytorch_utils": "algoperf_ray.compat.pytorch_utils",
    "jax_sharding_utils": "algoperf_ray.workload.sharding_jax",
    "sharding_utils": "algoperf_ray.workload.sharding_jax",  # short-lived earlier name
    "param_utils": "algoperf_ray.compat.param_utils",
    "random_utils": "algoperf_ray.workload.rng",
    "jax_utils": "algoperf_ray.compat.jax_utils",  # Dropout with a call-time rate
    "data_utils": "algoperf_ray.compat.data_utils",  # padding / pmap sharding helpers
}

_MARKER = "__algoperf_ray_compat__"


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias as its target module, or a synthetic root package."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._target_spec: Any = None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        if self.target is None:
            return None  # default module creation: the synthetic root package
        module = importlib.import_module(self.target)
        self._target_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if self.target is None:
            module.__doc__ = ("Alias package provided by algoperf_ray.compat; submodules: "
                              + ", ".join(sorted(ALIASES)) + ".")
            setattr(module, _MARKER, True)
            return
        # The import system stamped the alias spec on the shared module; put the
        # target's own spec back so reloads and tooling still see the real module.
        module.__spec__ = self._target_spec


class AlgoperfCompatFinder(importlib.abc.MetaPathFinder):
    """Answers for ``algoperf[.x]`` / ``algorithmic_efficiency[.x]`` only."""

    def find_spec(self, fullname: str, path: Any = None,
                  target: Any = None) -> ModuleSpec | None:
        root, _, rest = fullname.partition(".")
        if root not in ROOTS:
            return None
        if not rest:
            return importlib.util.spec_from_loader(fullname, _AliasLoader(None), is_package=True)
        parent = sys.modules.get(root)
        if parent is None or not getattr(parent, _MARKER, False):
            return None  # a real package is installed: never shadow its modules
        if rest not in ALIASES:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(ALIASES[rest]))

    @staticmethod
    def created(name: str) -> bool:
        """Whether ``sys.modules[name]`` was put there by this finder."""
        module = sys.modules.get(name)
        if module is None:
            return False
        root, _, rest = name.partition(".")
        if not rest:
            return bool(getattr(module, _MARKER, False))
        root_module = sys.modules.get(root)
        return bool(getattr(root_module, _MARKER, False)) and rest in ALIASES
