"""The core (spec, store, scoring, CLI help) must import with no ML framework.

Runs in a subprocess whose import system refuses torch, jax, flax and
tensorflow, so a stray top-level import anywhere in the core fails here.
"""

from __future__ import annotations

import subprocess
import sys

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'jax', 'jaxlib', 'flax', 'optax', 'tensorflow',
                                  'tensorflow_datasets'}:
            raise ImportError('blocked framework import: ' + name)
        return None
sys.meta_path.insert(0, Block())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + code], capture_output=True,
                          text=True, timeout=120)


def test_blocker_really_blocks() -> None:
    res = _run("import torch")
    assert res.returncode != 0 and "blocked framework import" in res.stderr


def test_core_modules_import_without_frameworks() -> None:
    modules = ["algoperf_ray", "algoperf_ray.spec", "algoperf_ray.meta", "algoperf_ray.registry",
               "algoperf_ray.rng", "algoperf_ray.metrics", "algoperf_ray.workload_base",
               "algoperf_ray.describe", "algoperf_ray.cli"]
    for optional in ("algoperf_ray.store", "algoperf_ray.scoring", "algoperf_ray.versions",
                     "algoperf_ray.report", "algoperf_ray.search_space", "algoperf_ray.plan",
                     "algoperf_ray.submission"):
        try:
            __import__(optional)
        except ModuleNotFoundError:
            continue
        modules.append(optional)
    code = "\n".join(f"import {m}" for m in modules)
    code += "\nfrom algoperf_ray import registry\nregistry.all_workloads()\n"
    res = _run(code)
    assert res.returncode == 0, res.stderr


def test_cli_help_without_frameworks() -> None:
    res = _run("import sys\nsys.argv=['algoperf-ray','--help']\n"
               "from algoperf_ray.cli import main\n"
               "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    assert res.returncode == 0, res.stderr
    assert "describe" in res.stdout
