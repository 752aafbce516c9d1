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
    modules = ["algoperf_ray", "algoperf_ray.spec", "algoperf_ray.benchmark.meta", "algoperf_ray.benchmark.registry",
               "algoperf_ray.workload.rng", "algoperf_ray.workload.metrics", "algoperf_ray.workload.base",
               "algoperf_ray.benchmark.describe", "algoperf_ray.cli", "algoperf_ray.benchmark.versions",
               "algoperf_ray.benchmark.identity", "algoperf_ray.runner", "algoperf_ray.tune.plan",
               "algoperf_ray.tune.driver"]
    for optional in ("algoperf_ray.store", "algoperf_ray.scoring.scoring",
                     "algoperf_ray.scoring.report", "algoperf_ray.submission.search_space",
                     "algoperf_ray.submission.loader"):
        try:
            __import__(optional)
        except ModuleNotFoundError:
            continue
        modules.append(optional)
    code = "\n".join(f"import {m}" for m in modules)
    code += "\nfrom algoperf_ray.benchmark import registry\nregistry.all_workloads()\n"
    res = _run(code)
    assert res.returncode == 0, res.stderr


def test_cli_help_without_frameworks() -> None:
    res = _run("import sys\nsys.argv=['algoperf-ray','--help']\n"
               "from algoperf_ray.cli import main\n"
               "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n")
    assert res.returncode == 0, res.stderr
    assert "describe" in res.stdout


def test_run_and_tune_help_without_frameworks_and_with_version() -> None:
    for command in ("run", "tune"):
        res = _run(f"import sys\nsys.argv=['algoperf-ray','{command}','--help']\n"
                   "from algoperf_ray.cli import main\n"
                   "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n")
        assert res.returncode == 0, res.stderr
        assert "--version" in res.stdout
