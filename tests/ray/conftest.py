"""One local Ray for every test in tests/ray (dashboard on, token auth handled).

Ray takes seconds to start and each Tune trial adds actors, so the whole
folder shares a single session-scoped instance. Multi-node fault tests start
their own ``ray.cluster_utils.Cluster`` in a subprocess (marked slow).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth_token() -> str | None:
    """The token Ray's token auth uses (env var, token file, or ~/.ray/auth_token)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"]
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", Path.home() / ".ray" / "auth_token"))
    return path.read_text().strip() if path.is_file() else None


@pytest.fixture(scope="session")
def ray_session():
    """A 2-CPU local Ray with the dashboard on a free localhost port."""
    ray = pytest.importorskip("ray")
    from algoperf_ray.tune.options import RAY_ENV_DEFAULTS

    for k, v in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    port = free_port()
    ctx = ray.init(num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
                   dashboard_port=port, log_to_driver=False)
    info = {"address": ctx.address_info["gcs_address"],
            "dashboard_url": f"http://127.0.0.1:{port}", "token": auth_token()}
    yield info
    ray.shutdown()


@pytest.fixture()
def sgd_submission() -> Path:
    return FIXTURES / "sgd_torch"


@pytest.fixture()
def broken_submission() -> Path:
    return FIXTURES / "broken"
