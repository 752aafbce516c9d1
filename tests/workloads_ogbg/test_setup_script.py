"""scripts/setup_ogbg.py on small datasets written in the real TFDS format."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SPLIT_SIZES, write_tfds


@pytest.fixture(scope="module")
def setup_mod(repo_root: Path):
    spec = importlib.util.spec_from_file_location("setup_ogbg", repo_root / "scripts/setup_ogbg.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def manifest(setup_mod) -> dict:
    return {**setup_mod.MANIFEST, "splits": dict(SPLIT_SIZES)}


@pytest.fixture
def prepared(ogbg_tfds, tmp_path: Path) -> Path:
    """A private copy of the session dataset that a test may damage."""
    shutil.copytree(ogbg_tfds[0] / "ogbg_molpcba", tmp_path / "ogbg_molpcba")
    return tmp_path


def test_valid_dataset_passes(setup_mod, manifest, prepared: Path) -> None:
    setup_mod.validate(prepared, manifest)


def test_real_manifest_rejects_tiny_dataset_with_counts(setup_mod, prepared: Path) -> None:
    with pytest.raises(setup_mod.DatasetError, match="'train' has 24 examples, expected 350343"):
        setup_mod.validate(prepared)


def test_truncated_shard_is_reported(setup_mod, manifest, prepared: Path) -> None:
    shard = next((prepared / "ogbg_molpcba/0.1.3").glob("*-validation.tfrecord-*"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(setup_mod.DatasetError, match="'validation': shard files hold .* bytes"):
        setup_mod.validate(prepared, manifest)


def test_missing_shard_and_missing_split(setup_mod, manifest, prepared: Path) -> None:
    root = prepared / "ogbg_molpcba/0.1.3"
    next(root.glob("*-test.tfrecord-*")).unlink()
    info = json.loads((root / "dataset_info.json").read_text())
    info["splits"] = [s for s in info["splits"] if s["name"] != "train"]
    (root / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(setup_mod.DatasetError) as e:
        setup_mod.validate(prepared, manifest)
    assert "split 'train' missing" in str(e.value)
    assert "'test': found 0 shard files" in str(e.value)


def test_setup_prepares_then_reuses_then_repairs(setup_mod, manifest, tmp_path: Path) -> None:
    calls = []

    def prepare(data_dir: Path, m: dict) -> None:  # writes the real on-disk format
        calls.append(data_dir)
        write_tfds(data_dir)

    root = setup_mod.setup(tmp_path, manifest, prepare=prepare, log=lambda s: None)
    assert calls == [tmp_path] and (root / "dataset_info.json").is_file()
    setup_mod.setup(tmp_path, manifest, prepare=prepare, log=lambda s: None)
    assert len(calls) == 1  # valid: nothing downloaded or rebuilt
    next(root.glob("*-train.tfrecord-*")).write_bytes(b"partial")
    setup_mod.setup(tmp_path, manifest, prepare=prepare, log=lambda s: None)
    assert len(calls) == 2
    setup_mod.validate(tmp_path, manifest)
    assert list(root.parent.glob("0.1.3.invalid-*")), "the broken folder is kept aside"


def test_setup_fails_loudly_when_prepare_leaves_it_invalid(setup_mod, manifest,
                                                           tmp_path: Path) -> None:
    with pytest.raises(setup_mod.DatasetError, match="not prepared"):
        setup_mod.setup(tmp_path, manifest, prepare=lambda d, m: None, log=lambda s: None)


def test_cli_check_only_exit_codes(repo_root: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, str(repo_root / "scripts/setup_ogbg.py"), "--data-dir", str(tmp_path),
           "--check-only"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "dataset_info.json not found" in out.stderr and "setup_ogbg.py --data-dir" in out.stderr
