"""scripts/setup_imagenet.py on tiny ILSVRC tars and an ImageNet-v2 tree in the real formats."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_setup_script


@pytest.fixture(scope="module")
def setup_mod():
    return load_setup_script()


@pytest.fixture
def prepared(tiny_imagenet, tmp_path: Path) -> tuple[Path, Path, dict]:
    """A private copy of the session dataset that a test may damage."""
    data_dir, manual, manifests = tiny_imagenet
    shutil.copytree(data_dir / "imagenet2012", tmp_path / "imagenet2012")
    shutil.copytree(data_dir / "imagenet_v2", tmp_path / "imagenet_v2")
    return tmp_path, manual, manifests


def test_prepared_tiny_datasets_are_valid(setup_mod, prepared):
    data_dir, _, manifests = prepared
    for manifest in manifests.values():
        setup_mod.validate(data_dir, manifest)


def test_real_manifest_rejects_tiny_counts(setup_mod, prepared):
    data_dir, _, _ = prepared
    with pytest.raises(setup_mod.DatasetError, match="'train' has 12 examples, expected 1281167"):
        setup_mod.validate(data_dir, setup_mod.MANIFESTS["imagenet2012"])
    with pytest.raises(setup_mod.DatasetError, match="'test' has 6 examples, expected 10000"):
        setup_mod.validate(data_dir, setup_mod.MANIFESTS["imagenet_v2"])


def test_truncated_shard_is_reported(setup_mod, prepared):
    data_dir, _, manifests = prepared
    shard = next((data_dir / "imagenet2012/5.1.0").glob("*-validation.tfrecord-*"))
    shard.write_bytes(shard.read_bytes()[:-7])
    with pytest.raises(setup_mod.DatasetError, match="'validation': shard files hold"):
        setup_mod.validate(data_dir, manifests["imagenet2012"])


def test_missing_tar_is_named_with_its_place(setup_mod, tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "ILSVRC2012_img_val.tar").write_bytes(b"x" * 10)
    with pytest.raises(setup_mod.DatasetError) as e:
        setup_mod.setup_one(tmp_path / "tfds", setup_mod.MANIFESTS["imagenet2012"], manual,
                            prepare=_fail, log=lambda _: None)
    text = str(e.value)
    assert "ILSVRC2012_img_train.tar is missing" in text
    assert str(manual / "ILSVRC2012_img_train.tar") in text
    assert "ILSVRC2012_img_val.tar has 10 bytes, expected 6744924160" in text
    with pytest.raises(setup_mod.DatasetError, match="needs --manual-dir"):
        setup_mod.setup_one(tmp_path / "tfds", setup_mod.MANIFESTS["imagenet2012"], None,
                            prepare=_fail, log=lambda _: None)


def _fail(*_args) -> None:
    raise AssertionError("prepare must not run")


def test_rerun_skips_valid_and_redoes_invalid(setup_mod, prepared, tmp_path):
    data_dir, manual, manifests = prepared
    logs: list[str] = []
    setup_mod.setup(data_dir, manual, manifests, prepare=_fail, log=logs.append)
    assert sum("already prepared and valid" in line for line in logs) == 2
    root = data_dir / "imagenet2012" / "5.1.0"
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine)
    (root / "dataset_info.json").unlink()  # an interrupted or damaged preparation
    calls = []

    def prepare(d, manifest, manual_dir):
        calls.append((manifest["name"], manual_dir))
        shutil.copytree(pristine, root)  # what a fresh TFDS preparation leaves

    logs.clear()
    setup_mod.setup_one(data_dir, manifests["imagenet2012"], manual, prepare=prepare,
                        log=logs.append)
    assert calls == [("imagenet2012", manual)]
    assert any("Moving the invalid folder" in line for line in logs)
    assert len(list((data_dir / "imagenet2012").glob("5.1.0.invalid-*"))) == 1
    setup_mod.validate(data_dir, manifests["imagenet2012"])


def test_check_only_cli_reports_missing_dataset(repo_root, tmp_path):
    proc = subprocess.run([sys.executable, str(repo_root / "scripts/setup_imagenet.py"),
                           "--data-dir", str(tmp_path), "--check-only"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "imagenet2012 is not prepared" in proc.stderr
