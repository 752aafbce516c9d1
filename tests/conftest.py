"""Session-wide pytest setup.

* ``slow`` tests (multi-node Ray clusters, long training) run only with
  ``--run-slow``; CI passes it because the whole suite fits its budget.
* Paths to the shared competition data are exposed as fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALGOPERF_RAY_SHARED", REPO.parent / "shared"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (multi-node Ray, long training)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("ALGOPERF_RAY_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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
