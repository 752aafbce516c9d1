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
