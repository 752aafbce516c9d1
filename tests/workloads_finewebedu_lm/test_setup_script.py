"""scripts/setup_finewebedu_lm.py on a tiny local corpus and tokenizer written by the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from algoperf_ray.workloads.finewebedu_lm import input_pipeline as ip


def _expected_streams(lm_raw, seed: float = 0, val_fraction: float = 0.1):
    """What the reference procedure gives: docs + EOS, one shuffle, 90/10 cut, concatenated."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(lm_raw.tokenizer))
    eos = tok.token_to_id("<|endoftext|>")
    docs = [tok.encode(d, add_special_tokens=False).ids + [eos] if d else []
            for d in lm_raw.docs]
    order = np.random.default_rng(seed).permutation(len(docs))
    cut = int((1 - val_fraction) * len(docs))
    return {name: np.asarray([t for d in idx for t in docs[d]], np.uint16)
            for name, idx in (("train", order[:cut]), ("val", order[cut:]))}, eos


def test_prepared_streams_follow_the_reference_procedure(lm_raw, lm_data_dir):
    expected, eos = _expected_streams(lm_raw)
    manifest = json.loads((lm_data_dir / ip.MANIFEST).read_text())
    for name, stream in expected.items():
        got = np.load(lm_data_dir / f"{name}.npy")
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, stream)
        assert manifest["splits"][name]["num_tokens"] == stream.size
    assert manifest["eos_id"] == eos and manifest["vocab_size"] == 300
    assert manifest["splits"]["train"]["num_documents"] == 72
    assert manifest["splits"]["val"]["num_documents"] == 8
    assert sum(s["num_nonempty_documents"] for s in manifest["splits"].values()) == \
        sum(1 for d in lm_raw.docs if d)


def test_rerun_resumes_and_validation_catches_damage(lm_raw, lm_facts, tmp_path):
    setup = lm_facts.load_setup_script()
    out = tmp_path / "data"
    setup.prepare(lm_raw.source, lm_raw.tokenizer, out, 0, 0.1, 300)
    reference = np.load(out / "val.npy").copy()
    # An interrupted run: the manifest and a split missing, a half-written file left over.
    os.remove(out / ip.MANIFEST)
    os.remove(out / "val.npy")
    (out / "val.partial.npy").write_bytes(b"junk")
    shard = next((out / "work").glob("*.tokens.bin"))
    stamp = shard.stat().st_mtime_ns
    setup.prepare(lm_raw.source, lm_raw.tokenizer, out, 0, 0.1, 300)
    assert shard.stat().st_mtime_ns == stamp  # tokenisation was not redone
    np.testing.assert_array_equal(np.load(out / "val.npy"), reference)
    setup.validate(out)
    with pytest.raises(setup.DatasetError, match="the reference has 8749870"):
        setup.validate(out, full=True)
    damaged = np.load(out / "train.npy", mmap_mode="r+")
    damaged[3] = 299 + 7
    damaged.flush()
    del damaged
    with pytest.raises(setup.DatasetError, match="token id 306 >= vocabulary size"):
        setup.validate(out)


def test_wrong_tokenizer_or_missing_source_is_reported(lm_raw, lm_facts, tmp_path):
    setup = lm_facts.load_setup_script()
    with pytest.raises(setup.DatasetError, match="expected --vocab-size 50257"):
        setup.prepare(lm_raw.source, lm_raw.tokenizer, tmp_path / "o", 0, 0.1, 50257)
    with pytest.raises(setup.DatasetError, match="no .parquet/.jsonl files"):
        setup.prepare(tmp_path, lm_raw.tokenizer, tmp_path / "o", 0, 0.1, 300)


def test_command_line_prepares_jsonl_and_checks(lm_raw, repo_root, tmp_path):
    src = tmp_path / "jsonl"
    src.mkdir()
    with (src / "part.jsonl").open("w") as f:
        for d in lm_raw.docs:
            f.write(json.dumps({"text": d, "id": "x"}) + "\n")
    script = str(repo_root / "scripts" / "setup_finewebedu_lm.py")
    out = tmp_path / "out"
    args = [sys.executable, script, "--output", str(out), "--source", str(src),
            "--tokenizer", str(lm_raw.tokenizer), "--vocab-size", "300"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "is valid" in proc.stdout
    expected, _ = _expected_streams(lm_raw)
    np.testing.assert_array_equal(np.load(out / "train.npy"), expected["train"])
    check = subprocess.run([sys.executable, script, "--output", str(out), "--check-only"],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "is valid" in check.stdout
    missing = subprocess.run([sys.executable, script, "--output", str(tmp_path / "none"),
                              "--check-only"], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and "setup_finewebedu_lm.py" in missing.stderr
