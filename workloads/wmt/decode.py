"""Beam search as the reference decodes translations, written once in numpy.

The search itself (beam 4, brevity penalty ((5 + len) / 6) ** 0.6, top 2k
candidates per step, finished/alive bookkeeping, early stop once no live
beam can beat the worst finished one) follows the reference's beam search.
Frameworks only supply ``next_top_k(prefix, index, k, parents)``: for every
flattened (example, beam) row, the ``k`` best next tokens and their
log-probabilities given the tokens generated so far, computed on device (only
``k`` numbers per row cross to the host; the global top ``2 * beam`` over all
beams of an example is always among each beam's own top ``2 * beam``).

Two ways to compute it, with the same results: the default keeps a per-layer
key/value cache on device and feeds only the newest token (``parents`` says,
for every row, which row of the previous call it continues, so the cache is
reordered as beams are re-ranked: the reference's cached decoding); the
uncached way re-runs the decoder on the whole prefix (bucketed lengths,
causal mask), kept for comparison and measurement.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from algoperf_ray.workloads.wmt.config import EOS_ID

NEG_INF = -1.0e7
BEAM_SIZE = 4
ALPHA = 0.6
PREFIX_BUCKET = 32  # decoder re-runs use prefix lengths rounded up to this

# (prefix [rows, length], index, k, parents [rows]) -> (log_probs [rows, k], ids [rows, k]);
# parents[r]: the row of the previous call that row r continues (cache reordering).
NextTopK = Callable[[np.ndarray, int, int, np.ndarray], tuple[np.ndarray, np.ndarray]]


def brevity_penalty(alpha: float, length: int) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def bucket_length(index: int, max_len: int) -> int:
    """Prefix length to feed at step ``index`` (a few shapes -> few compiles)."""
    return min(max_len, -(-(index + 1) // PREFIX_BUCKET) * PREFIX_BUCKET)


def log_softmax_top_k(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Host version of what the frameworks compute on device (tests, tools)."""
    x = logits.astype(np.float32) - logits.max(axis=-1, keepdims=True)
    x = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    idx = _topk_descending(x, k)
    return np.take_along_axis(x, idx, axis=1), idx


def _take(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """arr[b, idx[b, j], ...] -> [batch, len(idx[b]), ...]."""
    return np.take_along_axis(arr, idx.reshape(idx.shape + (1,) * (arr.ndim - 2)), axis=1)


def _topk_descending(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the top ``k`` per row, best first (argpartition: vocab-sized rows)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _topk_ascending(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the top ``k`` per row, worst first (the reference's beam order)."""
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return idx[:, ::-1]


def beam_search(next_top_k: NextTopK, batch_size: int, max_decode_len: int,
                beam_size: int = BEAM_SIZE, alpha: float = ALPHA, eos_id: int = EOS_ID
                ) -> np.ndarray:
    """Best sequence per example: int32 [batch, max_decode_len - 1] (no leading 0)."""
    live_lp = np.tile(np.array([0.0] + [NEG_INF] * (beam_size - 1), np.float32), (batch_size, 1))
    live = np.zeros((batch_size, beam_size, max_decode_len), np.int32)
    fin = np.zeros_like(live)
    fin_scores = np.full((batch_size, beam_size), NEG_INF, np.float32)
    fin_flags = np.zeros((batch_size, beam_size), bool)
    # Beam of the previous call each live beam continues (identity before step 0).
    parents = np.tile(np.arange(beam_size), (batch_size, 1))
    row_base = np.arange(batch_size)[:, None] * beam_size
    for index in range(max_decode_len - 1):
        if _terminated(live_lp, fin_scores, fin_flags, alpha, max_decode_len):
            break
        prefix = live[:, :, 1:bucket_length(index, max_decode_len - 1) + 1]
        k = 2 * beam_size
        cand_lp, cand_ids = next_top_k(prefix.reshape(batch_size * beam_size, -1), index, k,
                                       (row_base + parents).reshape(-1))
        cand_lp = np.asarray(cand_lp, np.float32).reshape(batch_size, beam_size * k) \
            + np.repeat(live_lp, k, axis=1)
        top = np.argsort(-cand_lp, axis=1, kind="stable")[:, :k]
        top_lp = np.take_along_axis(cand_lp, top, axis=1)
        seqs = _take(live, top // k)
        seqs[:, :, index + 1] = np.take_along_axis(
            np.asarray(cand_ids).reshape(batch_size, beam_size * k), top, axis=1)
        newly_finished = seqs[:, :, index + 1] == eos_id
        alive_lp = top_lp + newly_finished * NEG_INF
        keep = _topk_ascending(alive_lp, beam_size)
        live, live_lp = _take(seqs, keep), np.take_along_axis(alive_lp, keep, axis=1)
        parents = np.take_along_axis(top // k, keep, axis=1)
        scores = top_lp / brevity_penalty(alpha, index + 1) + (~newly_finished) * NEG_INF
        all_seqs = np.concatenate([fin, seqs], axis=1)
        all_scores = np.concatenate([fin_scores, scores], axis=1)
        all_flags = np.concatenate([fin_flags, newly_finished], axis=1)
        keep = _topk_ascending(all_scores, beam_size)
        fin, fin_scores = _take(all_seqs, keep), np.take_along_axis(all_scores, keep, axis=1)
        fin_flags = np.take_along_axis(all_flags, keep, axis=1)
    any_finished = fin_flags.any(axis=1)
    best = np.where(any_finished[:, None, None], fin, live)[:, -1]
    return best[:, 1:]


def _terminated(live_lp: np.ndarray, fin_scores: np.ndarray, fin_flags: np.ndarray,
                alpha: float, max_decode_len: int) -> bool:
    best_live = live_lp[:, -1:] / brevity_penalty(alpha, max_decode_len)
    worst_fin = np.where(fin_flags, fin_scores.min(axis=1, keepdims=True), NEG_INF)
    return bool(np.all(worst_fin > best_live))

