"""CTC loss (optax vs torch), greedy CTC decoding and corpus WER, shared by both families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from algoperf_ray.benchmark import registry
from algoperf_ray.workloads._librispeech_common import (
    ctc_wer_metrics,
    greedy_ctc_decode,
    word_errors,
)
from algoperf_ray.workloads.librispeech_conformer.metadata import REDUCED_SIZE_KWARGS


def _inputs(seed: int = 0):
    gen = np.random.default_rng(seed)
    logits = gen.standard_normal((3, 20, 8)).astype(np.float32) * 2
    logit_pads = np.zeros((3, 20), np.float32)
    logit_pads[1, 14:], logit_pads[2, 9:] = 1.0, 1.0
    targets = np.zeros((3, 6), np.int32)
    targets[0, :5] = [3, 4, 4, 5, 2]
    targets[1, :3] = [7, 6, 2]
    targets[2, :2] = [1, 2]
    return logits, logit_pads, targets, (targets == 0).astype(np.float32)


def test_ctc_loss_agrees_across_frameworks() -> None:
    logits, lp, targets, tp = _inputs()
    jw = registry.load_workload("librispeech_conformer", "jax", data_mode="synthetic",
                                **REDUCED_SIZE_KWARGS["librispeech_conformer"])
    tw = registry.load_workload("librispeech_conformer", "pytorch", data_mode="synthetic",
                                **REDUCED_SIZE_KWARGS["librispeech_conformer"])
    mask = np.array([1.0, 1.0, 0.0], np.float32)
    lj = jw.loss_fn((targets, tp), (logits, lp), mask_batch=mask)
    lt = tw.loss_fn((torch.from_numpy(targets), torch.from_numpy(tp)),
                    (torch.from_numpy(logits), torch.from_numpy(lp)), torch.from_numpy(mask))
    np.testing.assert_allclose(np.asarray(lj["per_example"]), lt["per_example"].numpy(),
                               rtol=1e-4)
    assert float(lj["n_valid_examples"]) == float(lt["n_valid_examples"]) == 5 + 3
    assert np.asarray(lj["per_example"])[2] == 0 and np.asarray(lj["per_example"])[0] > 0
    # Plain targets (what submissions pass as batch["targets"]) infer paddings from id 0.
    plain = jw.loss_fn(targets, (logits, lp))
    np.testing.assert_allclose(float(plain["summed"]),
                               float(np.asarray(jw.loss_fn((targets, tp), (logits, lp))
                                                ["summed"])), rtol=1e-6)
    assert float(plain["n_valid_examples"]) == 10


def test_greedy_decode_merges_repeats_then_drops_blanks() -> None:
    frames = np.array([[0, 3, 3, 0, 3, 5, 5, 0, 7], [4, 4, 0, 4, 9, 9, 9, 9, 9]])
    pads = np.zeros_like(frames, np.float32)
    pads[1, 4:] = 1
    out = greedy_ctc_decode(frames, pads)
    assert [o.tolist() for o in out] == [[3, 3, 5, 7], [4, 4]]


@pytest.mark.parametrize(("hyp", "ref", "want"), [
    ("THE CAT SAT", "THE CAT SAT", (0, 3)), ("THE CAT", "THE CAT SAT", (1, 3)),
    ("A THE CAT SAT", "THE CAT SAT", (1, 3)), ("THE DOG SAT ON", "THE CAT SAT", (2, 3)),
    ("", "THE CAT", (2, 2))])
def test_word_errors(hyp: str, ref: str, want: tuple[int, int]) -> None:
    assert word_errors(hyp, ref) == want


def test_wer_is_corpus_level_and_skips_padding_rows() -> None:
    """Sum of edits over sum of words (not a mean of per-utterance rates)."""
    words = {3: "A", 4: "B", 5: "C", 6: "D"}
    frames = np.array([[3, 0, 4], [5, 0, 0], [6, 6, 6]])
    targets = np.array([[3, 4, 0, 0], [5, 6, 3, 4], [3, 0, 0, 0]])
    out = ctc_wer_metrics({
        "frames": frames, "logit_paddings": np.zeros((3, 3), np.float32),
        "targets": targets, "target_paddings": (targets == 0).astype(np.float32),
        "per_example_loss": np.array([1.0, 3.0, 100.0]), "weights": np.array([1.0, 1.0, 0.0]),
    }, lambda ids: " ".join(words[int(i)] for i in ids))
    assert out["wer"] == pytest.approx(3 / 6)  # 0 + 3 edits over 2 + 4 words
    assert out["ctc_loss"] == pytest.approx(4.0 / 6)  # per valid target token
