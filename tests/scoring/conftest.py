"""The real v0.5 logs, extracted and ingested once per session."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from algoperf_ray.store import Store
from algoperf_ray.store.ingest import ingest


@pytest.fixture(scope="session")
def v05_logs(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v05_logs")
    with tarfile.open(shared_data / "algoperf_v05_logs.tar.xz") as tar:
        tar.extractall(out, filter="data")
    return out / "algoperf_v05" / "logs"


@pytest.fixture(scope="session")
def v05_store(v05_logs, tmp_path_factory) -> Store:
    store = Store(str(tmp_path_factory.mktemp("v05_store")))
    ingest(str(v05_logs / "external_tuning"), store, "external", "0.5")
    ingest(str(v05_logs / "self_tuning"), store, "self", "0.5")
    return store
