"""scripts/setup_wmt.py on small files written in the real formats."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def setup_wmt(repo_root):
    spec = importlib.util.spec_from_file_location("setup_wmt", repo_root / "scripts/setup_wmt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest(setup_wmt, wmt_facts) -> dict:
    """The real manifest with this test's split sizes and tokenizer size."""
    sizes = {name: {s: len(rows) for s, rows in splits.items()}
             for name, splits in wmt_facts.splits.items()}
    datasets = [{**ds, "splits": {s: sizes[ds["name"]][s] for s in ds["splits"]}}
                for ds in setup_wmt.MANIFEST["datasets"]]
    return {"datasets": datasets, "tokenizer": {**setup_wmt.MANIFEST["tokenizer"],
                                                "vocab_size": wmt_facts.vocab_size,
                                                "max_corpus_chars": 10_000}}


def _copy_prepared(src: Path, dst: Path) -> None:
    for name in ("wmt17_translate", "wmt14_translate"):
        shutil.copytree(src / name, dst / name)


def test_validate_accepts_prepared_data(setup_wmt, wmt_data_dir, wmt_facts):
    setup_wmt.validate(wmt_data_dir, _manifest(setup_wmt, wmt_facts))


def test_validate_reports_truncated_shards_missing_splits_and_wrong_counts(
        setup_wmt, wmt_data_dir, wmt_facts, tmp_path):
    _copy_prepared(wmt_data_dir, tmp_path)
    manifest = _manifest(setup_wmt, wmt_facts)
    shard = next((tmp_path / "wmt14_translate/de-en/1.0.0").glob("*-test.tfrecord-*"))
    shard.write_bytes(shard.read_bytes()[:-5])
    info = tmp_path / "wmt17_translate/de-en/1.0.0/dataset_info.json"
    data = json.loads(info.read_text())
    data["splits"][0]["shardLengths"] = ["3"]
    info.write_text(json.dumps(data))
    with pytest.raises(setup_wmt.DatasetError) as err:
        setup_wmt.validate(tmp_path, manifest)
    msg = str(err.value)
    assert "split 'test': shard files hold" in msg and "truncated" in msg
    assert "split 'train' has 3 examples, expected 20" in msg
    assert "wmt_sentencepiece_model not found" in msg and "setup_wmt.py" in msg


def test_setup_resumes_prepares_only_what_is_invalid_and_trains_the_tokenizer(
        setup_wmt, wmt_data_dir, wmt_facts, tmp_path):
    manifest = _manifest(setup_wmt, wmt_facts)
    shutil.copytree(wmt_data_dir / "wmt17_translate", tmp_path / "wmt17_translate")
    prepared = []

    def prepare(data_dir, ds):  # stands in for the TFDS download: copy the prepared folder
        prepared.append(ds["name"])
        shutil.copytree(wmt_data_dir / ds["name"], data_dir / ds["name"], dirs_exist_ok=True)

    setup_wmt.setup(tmp_path, manifest, prepare=prepare, log=lambda m: None)
    assert prepared == ["wmt14_translate"]  # wmt17 was already valid
    setup_wmt.validate(tmp_path, manifest)
    model = tmp_path / "wmt_sentencepiece_model"
    stamp = model.stat().st_mtime_ns
    setup_wmt.setup(tmp_path, manifest, prepare=prepare, log=lambda m: None)  # all valid: no-op
    assert prepared == ["wmt14_translate"] and model.stat().st_mtime_ns == stamp


def test_cli_check_only_exits_2_with_the_problem(setup_wmt, tmp_path, capsys):
    import typer

    with pytest.raises(typer.Exit) as exit_info:
        setup_wmt.main(data_dir=tmp_path, check_only=True)
    assert exit_info.value.exit_code == 2
    assert "dataset_info.json not found" in capsys.readouterr().err
