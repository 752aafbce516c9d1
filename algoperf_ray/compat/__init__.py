"""Run public AlgoPerf submissions unchanged: ``algoperf.*`` import aliases.

Public submissions import ``algoperf.spec``, ``algoperf.pytorch_utils``,
``algoperf.jax_sharding_utils``, ``algoperf.param_utils`` (and older ones
``algorithmic_efficiency.spec`` / ``algorithmic_efficiency.pytorch_utils``).
:func:`install` appends an import finder to ``sys.meta_path`` that resolves
those names to this project's modules. Being last on ``sys.meta_path``, it
only answers when the real packages are absent, so an installed reference
package always wins.

An alias is the *same module object* as its target (``algoperf.spec is
algoperf_ray.spec``), so enums and classes compare equal across both names.
Nothing happens at import time: :func:`algoperf_ray.submission.loader.load_submission`
calls :func:`install`, which is idempotent.
"""

from __future__ import annotations

import sys

from algoperf_ray.compat.finder import ALIASES, ROOTS, AlgoperfCompatFinder

__all__ = ["ALIASES", "ROOTS", "AlgoperfCompatFinder", "install", "installed", "provided_modules",
           "uninstall"]


def installed() -> bool:
    return any(isinstance(f, AlgoperfCompatFinder) for f in sys.meta_path)


def install() -> None:
    """Add the alias finder at the end of ``sys.meta_path`` (once)."""
    if not installed():
        sys.meta_path.append(AlgoperfCompatFinder())


def uninstall() -> None:
    """Remove the finder and every alias module it created (used by tests)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, AlgoperfCompatFinder)]
    ours = [name for name in list(sys.modules)
            if name.partition(".")[0] in ROOTS and AlgoperfCompatFinder.created(name)]
    for name in ours:  # decided before deleting: created() looks at the root package
        del sys.modules[name]


def provided_modules() -> list[str]:
    """Every importable alias name, e.g. ``algoperf.spec``."""
    return [f"{root}.{sub}" for root in ROOTS for sub in ALIASES]
