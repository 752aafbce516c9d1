"""Packing, shuffling, eval padding and synthetic batches of the finewebedu_lm pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from algoperf_ray.benchmark import registry
from algoperf_ray.workloads.finewebedu_lm import input_pipeline as ip


def test_windows_pack_the_stream_like_the_reference():
    """Non-overlapping (L+1)-token windows; inputs/targets are the window shifted by one."""
    stream = np.arange(50, dtype=np.uint16)
    seqs = ip.windows(stream, seq_len=7)
    assert seqs.shape == (6, 8)  # 48 tokens used, the 2-token tail dropped
    batch = next(ip.eval_batches(seqs, 6, 6, "validation"))
    np.testing.assert_array_equal(batch["inputs"][1], np.arange(8, 15))
    np.testing.assert_array_equal(batch["targets"][1], np.arange(9, 16))
    assert batch["inputs"].dtype == np.int32 and batch["weights"].dtype == np.float32


def test_shuffle_buffer_visits_every_window_once_per_epoch_in_a_new_order():
    first, second = (list(itertools.islice(ip.shuffled_indices(2500, seed=3), 2500 * k,
                                           2500 * (k + 1))) for k in (0, 1))
    assert sorted(first) == list(range(2500)) == sorted(second)
    assert first != second and first != list(range(2500))
    # A 1,000-window buffer: the first output is one of the first 1,001 windows.
    assert max(first[:1]) <= 1000
    assert list(itertools.islice(ip.shuffled_indices(2500, 3), 50)) == first[:50]


def test_train_batches_keep_rows_intact_and_repeat():
    stream = np.arange(5 * 9, dtype=np.uint16)
    seqs = ip.windows(stream, seq_len=8)
    batches = list(itertools.islice(ip.train_batches(seqs, 3, seed=0), 4))  # 12 rows > 5
    rows = np.concatenate([b["inputs"] for b in batches])
    assert {int(r[0]) // 9 for r in rows} == set(range(5))
    for b in batches:
        np.testing.assert_array_equal(b["targets"], b["inputs"] + 1)
        assert (b["weights"] == 1).all()


def test_eval_pass_pads_the_last_batch_with_zero_weights():
    seqs = ip.windows(np.arange(7 * 5, dtype=np.uint16), seq_len=4)
    batches = list(ip.eval_batches(seqs, 7, 3, "validation"))
    assert len(batches) == 3
    assert batches[-1]["weights"].sum(axis=1).tolist() == [4, 0, 0]
    assert (batches[-1]["inputs"][1:] == 0).all()
    with pytest.raises(ValueError, match="has 7 sequences, the eval needs 8"):
        list(ip.eval_batches(seqs, 8, 3, "validation"))


def test_synthetic_batches_have_the_real_shapes_and_valid_tokens():
    wl = registry.load_workload("finewebedu_lm", "jax", data_mode="synthetic")
    batch = next(wl.host_batches("train", 0, None, 2, train=True))
    assert {k: (v.shape, v.dtype.name) for k, v in batch.items()} == {
        "inputs": ((2, 1024), "int32"), "targets": ((2, 1024), "int32"),
        "weights": ((2, 1024), "float32")}
    assert 0 <= batch["inputs"].min() and batch["inputs"].max() < 50257
    np.testing.assert_array_equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    wl_small = registry.load_workload("finewebedu_lm", "jax", data_mode="synthetic",
                                      max_eval_examples=5)
    evals = list(wl_small.host_batches("validation", 0, None, 4, train=False))
    assert [int(b["weights"][:, 0].sum()) for b in evals] == [4, 1]


def test_missing_data_names_the_setup_script(tmp_path):
    wl = registry.load_workload("finewebedu_lm", "jax")
    with pytest.raises(FileNotFoundError, match="setup_finewebedu_lm.py"):
        next(wl.host_batches("train", 0, str(tmp_path), 2, train=True))
    with pytest.raises(ValueError, match="no split 'test'"):
        ip.token_stream(str(tmp_path), "test", 50257)
