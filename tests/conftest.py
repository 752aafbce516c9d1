"""Session-wide pytest setup.

* ``slow`` tests (multi-node Ray clusters, long training) run only with
  ``--run-slow``; CI passes it because the whole suite fits its budget.
* Paths to the shared competition data are exposed as fixtures.
* Under pytest-xdist (``-n auto --dist loadgroup``, as CI runs) the tests in
  ``tests/ray`` form one group on one worker, so they share one local Ray.
* JAX's persistent compilation cache points at one fresh folder per test
  session, so the many CLI subprocesses that compile the same reduced
  models compile each once (about 40% of a small JAX run's wall time). It
  is never shared between sessions, so no stale executable can leak in.
* XLA's CPU backend compiles at LLVM optimization level 0 in tests
  (``--xla_backend_optimization_level=0``, appended to ``XLA_FLAGS`` and
  inherited by every subprocess). The suite's JAX time is mostly compiling
  small models once each, which this makes 3-4x faster (fastMRI's reduced
  U-Net gradient: 13.5 s -> 3.3 s); XLA's HLO passes (fusion, layout) are
  unchanged, so the same computation runs, only the machine code is less
  tuned. Every cross-framework equality test passes under it. Users' runs
  never get this flag.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RAY_TESTS = REPO / "tests" / "ray"
SHARED = Path(os.environ.get("ALGOPERF_RAY_SHARED", REPO.parent / "shared"))


_JAX_CACHE_ENV = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                  "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


_FAST_COMPILE = "--xla_backend_optimization_level=0"


def pytest_configure(config: pytest.Config) -> None:
    """Fast XLA compiles and one session-wide JAX compilation cache, for every subprocess."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_FAST_COMPILE}".strip()
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return  # the caller chose one
    folder = tempfile.mkdtemp(prefix="algoperf-ray-jax-cache-")
    config._jax_cache_dir = folder  # removed in pytest_unconfigure
    os.environ.update(JAX_COMPILATION_CACHE_DIR=folder, **_JAX_CACHE_ENV)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = getattr(config, "_jax_cache_dir", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (multi-node Ray, long training)")
    parser.addoption("--run-exhaustive", action="store_true", default=False,
                     help="with --run-slow: also run slow tests on every variant workload, "
                          "not only on the base workloads")


def _variant_params(item: pytest.Item) -> list[str]:
    """Variant workload names among a parametrized test's arguments."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return []
    from algoperf_ray.benchmark.registry import all_workloads

    table = all_workloads()
    return [v for v in callspec.params.values()
            if isinstance(v, str) and v in table and table[v].base is not None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` needs --run-slow; a slow test on a variant workload needs --run-exhaustive.

    Every variant keeps its quick forward/backward, equivalence and eval tests;
    the slow end-to-end runs (NadamW through the CLI, training on real-format
    files) repeat the base workload's path with another activation or width, so
    CI runs them on the base workloads only to stay inside its time budget.
    """
    run_slow = config.getoption("--run-slow") or os.environ.get("ALGOPERF_RAY_RUN_SLOW") == "1"
    exhaustive = config.getoption("--run-exhaustive")
    skip_slow = pytest.mark.skip(reason="slow: pass --run-slow to run")
    skip_variant = pytest.mark.skip(reason="exhaustive (a variant, or a repeat of a path "
                                    "CI already runs): pass --run-exhaustive")
    ray_group = pytest.mark.xdist_group("ray")
    for item in items:
        if RAY_TESTS in item.path.parents:
            item.add_marker(ray_group)  # one Ray per session: its tests share a worker
        if "slow" not in item.keywords:
            continue
        if not run_slow:
            item.add_marker(skip_slow)
        elif not exhaustive and ("exhaustive" in item.keywords or _variant_params(item)):
            item.add_marker(skip_variant)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.exists():
        pytest.fail(f"shared data not found at {path}; set ALGOPERF_RAY_SHARED")
    return path


@pytest.fixture(scope="session")
def train_few_steps():
    """Train our NadamW baseline a few steps through the real runner.

    Used by each workload family's test on tiny real-format data. The batch
    size is shrunk to fit the tiny datasets; everything else (pipeline, model,
    timed loop, eval) is the real path.
    """

    def run(workload: str, framework: str, data_dir: str, workload_kwargs: dict,
            batch_size: int = 8, steps: int = 2):
        from dataclasses import replace

        from algoperf_ray.benchmark.registry import load_workload
        from algoperf_ray.runner import TrialConfig
        from algoperf_ray.runner.trial import run_loaded_trial
        from algoperf_ray.submission.loader import load_submission

        path = str(REPO / "submissions" / "nadamw")
        sub = replace(load_submission(path, framework), get_batch_size=lambda _: batch_size)
        wl = load_workload(workload, framework, data_mode="real", **workload_kwargs)
        config = TrialConfig.build(workload=workload, framework=framework, submission_path=path,
                                   ruleset="self", max_global_steps=steps, data_dir=str(data_dir),
                                   workload_kwargs=workload_kwargs, raise_on_error=True)
        return run_loaded_trial(config, wl, sub)

    return run


@pytest.fixture(scope="session")
def host_devices_env():
    """``env(devices, **extra)``: this environment with XLA faking ``devices`` CPU devices.

    For the subprocesses that test sharding on one CPU. The flag is appended
    to the inherited ``XLA_FLAGS``, so the session's fast-compile flag (and any
    flag the caller set) still applies; ``extra`` adds or overrides variables.
    """

    def env(devices: int, **extra: str) -> dict[str, str]:
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
        return {**os.environ, "XLA_FLAGS": flags.strip(), **extra}

    return env
