"""wmt decoding and metrics: beam search, BLEU statistics, end-to-end eval on real-format data."""

from __future__ import annotations

import numpy as np
import pytest

from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.wmt import convert, decode
from algoperf_ray.workloads.wmt.workload import bleu_from_statistics, bleu_statistics


def _scripted(target: list[int], vocab: int = 16):
    """next_top_k that strongly prefers ``target`` token by token, then EOS."""
    calls = []

    def next_top_k(prefix: np.ndarray, index: int, k: int, parents: np.ndarray):
        calls.append(prefix.shape)
        logits = np.zeros((prefix.shape[0], vocab), np.float32)
        logits[:, target[index] if index < len(target) else decode.EOS_ID] = 10.0
        return decode.log_softmax_top_k(logits, k)

    return next_top_k, calls


def test_beam_search_finds_the_scripted_sequence_and_stops_early():
    target = [5, 6, 7, decode.EOS_ID]
    fn, calls = _scripted(target)
    out = decode.beam_search(fn, batch_size=3, max_decode_len=40)
    assert out.shape == (3, 39)
    np.testing.assert_array_equal(out[:, :4], [target] * 3)
    assert not out[:, 4:].any()
    assert len(calls) < 39  # stopped once no live beam could beat the finished ones
    assert calls[0] == (3 * decode.BEAM_SIZE, decode.PREFIX_BUCKET)


def test_beam_search_prefers_the_better_scored_finished_sequence():
    # Step 0: EOS right away has log-prob ~ -0.7, token 5 then EOS ~ -0.7 + 0:
    # with the brevity penalty ((5 + len) / 6) ** 0.6 the longer one scores better.
    def fn(prefix, index, k, parents):
        logits = np.full((prefix.shape[0], 8), -30.0, np.float32)
        if index == 0:
            logits[:, [decode.EOS_ID, 5]] = 0.0
        else:
            logits[:, decode.EOS_ID] = 10.0
        return decode.log_softmax_top_k(logits, k)

    out = decode.beam_search(fn, batch_size=1, max_decode_len=8)
    np.testing.assert_array_equal(out[0, :2], [5, decode.EOS_ID])


def test_bleu_statistics_add_up_to_sacrebleu_corpus_bleu():
    import sacrebleu

    hyps = ["the cat sits on the mat", "a dog runs", "hello world", "it is raining today ."]
    refs = ["the cat sat on the mat", "the dog runs", "hello world", "it rains today ."]
    halves = [bleu_statistics(hyps[:2], refs[:2]), bleu_statistics(hyps[2:], refs[2:])]
    totals = {k: halves[0][k] + halves[1][k] for k in halves[0]}
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert bleu_from_statistics(totals) == pytest.approx(expected)
    assert bleu_from_statistics(bleu_statistics(refs, refs)) == pytest.approx(100.0)
    assert 0.0 < expected < 100.0


def _tiny_pair(wmt_facts):
    import jax
    import torch

    kw = {**wmt_facts.tiny, "max_eval_examples": 8}
    wj = registry.load_workload("wmt", "jax", data_mode="real", **kw)
    wt = registry.load_workload("wmt", "pytorch", data_mode="real", **kw)
    pj, _ = wj.init_model_fn(rng_lib.PRNGKey(3))
    pt, _ = wt.init_model_fn(rng_lib.PRNGKey(3))
    state = convert.flax_to_torch(jax.tree_util.tree_map(np.asarray, pj), wj.cfg)
    pt.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return wj, pj, wt, pt


def test_eval_end_to_end_on_real_format_data_agrees_across_frameworks(wmt_data_dir, wmt_facts):
    """TFDS folders + SentencePiece -> loss, accuracy and beam-search BLEU, in both frameworks."""
    wj, pj, wt, pt = _tiny_pair(wmt_facts)
    key, data_dir = rng_lib.PRNGKey(0), str(wmt_data_dir)
    res_j = wj.eval_model(4, pj, None, key, data_dir, None, 0)
    res_t = wt.eval_model(4, pt, None, key, data_dir, None, 0)
    for split in ("train", "validation", "test"):
        assert 0.0 <= res_j[f"{split}/accuracy"] <= 1.0
        assert 0.0 <= res_j[f"{split}/bleu"] <= 100.0
        assert np.isfinite(res_j[f"{split}/loss"]) and res_j[f"{split}/loss"] > 0
    for k, v in res_j.items():
        assert res_t[k] == pytest.approx(v, rel=1e-3, abs=1e-4), k
    # the same weights give the same translations token for token
    batch = next(wj.host_batches("validation", 0, data_dir, 4, train=False))
    np.testing.assert_array_equal(wj._translate(pj, batch["inputs"]),
                                  wt._translate(pt, batch["inputs"]))


def test_synthetic_eval_has_real_shapes_and_scores_id_strings():
    from algoperf_ray.workloads.wmt.metadata import REDUCED_SIZE_KWARGS

    wl = registry.load_workload("wmt", "pytorch", data_mode="synthetic",
                                **REDUCED_SIZE_KWARGS["wmt"])
    model, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
    batch = next(wl.host_batches("validation", 0, None, 8, train=False))
    assert batch["inputs"].shape == (8, 32) and batch["weights"].shape == (8, 32)
    res = wl._eval_model_on_split("validation", 8, 8, model, None, rng_lib.PRNGKey(0), None)
    assert set(res) == {"loss", "accuracy", "bleu"} and 0.0 <= res["bleu"] <= 100.0
