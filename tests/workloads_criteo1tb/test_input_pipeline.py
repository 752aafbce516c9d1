"""The criteo1tb input pipeline on tiny files in the real sharded TSV format."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from algoperf_ray.workloads.criteo1tb import input_pipeline as ip


def test_split_files_follow_reference_day23_halves(criteo_dir):
    names = {s: [p.rsplit("/", 1)[-1] for p in ip.split_files(str(criteo_dir), s)]
             for s in ip.SPLITS}
    assert names["test"] == [f"day_23_{i:02d}" for i in range(19)]
    assert names["validation"] == [f"day_23_{i:02d}" for i in range(19, 36)]
    assert names["train"] == names["eval_train"] == ["day_0_00", "day_0_01", "day_1_00"]


def test_missing_data_dir_and_split_errors_say_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="setup_criteo1tb.py"):
        ip.split_files(str(tmp_path / "nope"), "train")
    (tmp_path / "day_0_00").write_text("0\n")
    with pytest.raises(FileNotFoundError, match="day_23_19"):
        ip.split_files(str(tmp_path), "validation")
    with pytest.raises(ValueError, match="unknown criteo1tb split"):
        ip.split_files(str(tmp_path), "dev")


def test_log_transform_clamps_negatives_then_log1p():
    out = ip.log_transform(np.array([[-7.0, 0.0, 1.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.0, np.log(2.0), np.log(1001.0)]], rtol=1e-6)
    assert out.dtype == np.float32


def _parse_one(line: str) -> dict:
    """Parse a single raw line through the real pipeline (a one-line validation shard)."""
    import tensorflow as tf

    labels, dense, ids = ip._parse_fn(tf)(tf.constant([line]))
    return ip.assemble(labels.numpy(), dense.numpy(), ids.numpy())


def test_parse_matches_reference_semantics():
    import tensorflow as tf

    dense = ["3", "-1", "", "-4"] + ["0"] * 9
    cats = ["68fd1e64"] * 2 + [""] + ["80e26c9b"] * 23
    batch = _parse_one("\t".join(["1", *dense, *cats]))
    inputs = batch["inputs"][0]
    assert batch["targets"].tolist() == [1.0] and inputs.shape == (39,)
    # "-1" and missing are 0 before the log; negatives are clamped to 0.
    np.testing.assert_allclose(inputs[:4], [np.log(4.0), 0.0, 0.0, 0.0], rtol=1e-6)
    ids = inputs[13:]
    # Column index appended before hashing: equal strings in columns 0 and 1 differ.
    expect = [tf.strings.to_hash_bucket_fast(s + str(i), ip.HASH_BUCKETS[i]).numpy()
              for i, s in enumerate(["68fd1e64", "68fd1e64", "00000000"])]
    np.testing.assert_array_equal(ids[:3], np.asarray(expect, np.float32))
    assert ids[0] != ids[1]
    assert np.all(ids >= 0) and np.all(ids < np.asarray(ip.HASH_BUCKETS))


def test_eval_batches_one_pass_padded_with_zero_weights(criteo_dir, criteo_counts):
    batches = list(ip.criteo_batches(str(criteo_dir), "validation", 16, seed=0, train=False))
    n = criteo_counts["validation"]
    assert len(batches) == -(-n // 16)
    for b in batches:
        assert b["inputs"].shape == (16, 39) and b["inputs"].dtype == np.float32
        assert b["targets"].shape == b["weights"].shape == (16,)
    weights = np.concatenate([b["weights"] for b in batches])
    assert weights.sum() == n and np.all(weights[n:] == 0)
    assert np.all(np.concatenate([b["inputs"] for b in batches])[n:] == 0)


def test_train_batches_are_full_shuffled_and_repeat(criteo_dir, criteo_counts):
    total = criteo_counts["train"]
    stream = ip.criteo_batches(str(criteo_dir), "train", 4, seed=3, train=True)
    batches = list(itertools.islice(stream, 3 * total // 4 + 2))  # more than 2 epochs
    assert all(b["inputs"].shape == (4, 39) and "weights" not in b for b in batches)
    labels = set(np.concatenate([b["targets"] for b in batches]).tolist())
    assert labels <= {0.0, 1.0}
    first = [next(ip.criteo_batches(str(criteo_dir), "train", 4, seed=s, train=True))["inputs"]
             for s in range(6)]
    assert any(not np.array_equal(first[0], f) for f in first[1:]), "shard order ignores seed"
