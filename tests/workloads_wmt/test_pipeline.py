"""The wmt input pipeline: packing, padding, and real TFDS + SentencePiece reading."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray.workloads.wmt import input_pipeline


def test_pack_group_matches_the_reference_example():
    # The example of the reference packer's docstring (length 10).
    rows = input_pipeline.pack_group([([8, 7, 1], [4, 1]), ([2, 3, 4, 1], [5, 6, 1])], 10)
    assert len(rows) == 1
    row = rows[0]
    np.testing.assert_array_equal(row["inputs"], [8, 7, 1, 2, 3, 4, 1, 0, 0, 0])
    np.testing.assert_array_equal(row["inputs_segmentation"], [1, 1, 1, 2, 2, 2, 2, 0, 0, 0])
    np.testing.assert_array_equal(row["inputs_position"], [0, 1, 2, 0, 1, 2, 3, 0, 0, 0])
    np.testing.assert_array_equal(row["targets"], [4, 1, 5, 6, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(row["targets_segmentation"], [1, 1, 2, 2, 2, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(row["targets_position"], [0, 1, 0, 1, 2, 0, 0, 0, 0, 0])


def test_pack_group_starts_a_new_row_when_either_side_overflows():
    rows = input_pipeline.pack_group([([1] * 3, [1] * 4), ([2] * 2, [2] * 2), ([3], [3])], 5)
    assert [list(r["targets"]) for r in rows] == [[1, 1, 1, 1, 0], [2, 2, 3, 0, 0]]
    assert list(rows[1]["inputs_segmentation"]) == [1, 1, 2, 0, 0]


def test_padded_batches_pad_the_last_batch_with_zero_weight_rows():
    pairs = [([5, 2], [6, 7, 2])] * 5
    batches = list(input_pipeline.padded_batches(pairs, 8, 4))
    assert len(batches) == 2 and batches[1]["inputs"].shape == (4, 8)
    np.testing.assert_array_equal(batches[1]["weights"].sum(axis=1), [3, 0, 0, 0])
    np.testing.assert_array_equal(batches[0]["weights"][0], [1, 1, 1, 0, 0, 0, 0, 0])


def test_shuffle_buffer_is_a_seeded_permutation():
    a = list(input_pipeline.shuffle_buffer(range(50), seed=3, size=8))
    assert sorted(a) == list(range(50)) and a != list(range(50))
    assert a == list(input_pipeline.shuffle_buffer(range(50), seed=3, size=8))


def test_tokenize_drops_pairs_longer_than_max_len(wmt_data_dir, wmt_facts):
    tok = input_pipeline.Tokenizer(str(wmt_data_dir / "wmt_sentencepiece_model"))
    long_pair = ("das haus " * 20, "x")
    out = list(input_pipeline.tokenize_pairs([wmt_facts.pairs[0], long_pair], tok, 24))
    assert len(out) == 1 and out[0][0][-1] == 2 and out[0][1][-1] == 2  # EOS appended
    assert tok.decode(np.array(out[0][1] + [0, 0])) == wmt_facts.pairs[0][1]


def test_missing_tokenizer_error_names_the_setup_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="setup_wmt.py"):
        input_pipeline.Tokenizer(str(tmp_path / "nope"))


def test_real_train_batches_are_packed_from_tfds(wmt_data_dir, wmt_facts):
    from algoperf_ray.benchmark import registry

    wl = registry.load_workload("wmt", "jax", data_mode="real", **wmt_facts.tiny)
    batch = next(wl.host_batches("train", 0, str(wmt_data_dir), 4, train=True))
    assert set(batch) == {"inputs", "targets", "inputs_position", "targets_position",
                          "inputs_segmentation", "targets_segmentation", "weights"}
    assert all(v.shape == (4, 24) for v in batch.values())
    np.testing.assert_array_equal(batch["weights"], batch["targets"] > 0)
    seg, pos = batch["targets_segmentation"], batch["targets_position"]
    assert seg.max() >= 2  # short sentences: several pairs per row
    # every segment starts at position 0 and ends with EOS
    for r in range(4):
        for s in range(1, seg[r].max() + 1):
            idx = np.flatnonzero(seg[r] == s)
            assert pos[r, idx[0]] == 0 and batch["targets"][r, idx[-1]] == 2


def test_real_eval_batches_cover_the_split_once(wmt_data_dir, wmt_facts):
    from algoperf_ray.benchmark import registry

    wl = registry.load_workload("wmt", "pytorch", data_mode="real", **wmt_facts.tiny)
    batches = list(wl.host_batches("validation", 0, str(wmt_data_dir), 4, train=False))
    n_valid = sum(int((b["weights"].sum(axis=1) > 0).sum()) for b in batches)
    assert n_valid == len(wmt_facts.splits["wmt14_translate"]["validation"]) and len(batches) == 2
    tok = wl.tokenizer(str(wmt_data_dir))
    assert tok.decode(batches[0]["targets"][0]) == wmt_facts.splits["wmt14_translate"]["validation"][0][1]
