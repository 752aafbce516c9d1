"""Framework-neutral wmt workload logic: data, synthetic batches, eval metrics.

The eval runs in the shared loop's "collect" mode: per batch the framework
leaf gives per-row token loss, correct-token and token counts and this class
adds the beam-searched translation of every real row; once the whole split
is gathered (all batches, all DDP ranks), corpus BLEU is computed by
sacrebleu with the reference's settings (13a tokenisation, exp smoothing, no
lowercasing). :func:`bleu_statistics` are additive, so per-part statistics
summed give exactly the corpus BLEU of the whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.workload.base import BaseWorkload, NumpyBatch
from algoperf_ray.workloads.wmt import decode, input_pipeline
from algoperf_ray.workloads.wmt.config import split_kwargs

NGRAM_ORDER = 4
BLEU_KEYS = tuple([f"bleu_correct_{n}" for n in range(1, NGRAM_ORDER + 1)]
                  + [f"bleu_total_{n}" for n in range(1, NGRAM_ORDER + 1)]
                  + ["bleu_sys_len", "bleu_ref_len"])


def bleu_statistics(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Additive corpus-BLEU statistics of (hypothesis, reference) pairs."""
    from sacrebleu.metrics import BLEU

    if not hypotheses:
        return dict.fromkeys(BLEU_KEYS, 0.0)
    score = BLEU(tokenize="13a", smooth_method="exp", lowercase=False).corpus_score(
        hypotheses, [references])
    stats = {f"bleu_correct_{n + 1}": c for n, c in enumerate(score.counts)}
    stats.update({f"bleu_total_{n + 1}": t for n, t in enumerate(score.totals)})
    stats.update(bleu_sys_len=score.sys_len, bleu_ref_len=score.ref_len)
    return {k: float(v) for k, v in stats.items()}


def bleu_from_statistics(totals: dict[str, float]) -> float:
    """Corpus BLEU (0-100) from summed :func:`bleu_statistics`."""
    from sacrebleu.metrics import BLEU

    correct = [int(totals[f"bleu_correct_{n}"]) for n in range(1, NGRAM_ORDER + 1)]
    total = [int(totals[f"bleu_total_{n}"]) for n in range(1, NGRAM_ORDER + 1)]
    return float(BLEU.compute_bleu(correct, total, int(totals["bleu_sys_len"]),
                                   int(totals["bleu_ref_len"]), smooth_method="exp").score)


class WmtWorkload(BaseWorkload):
    """wmt, framework-neutral: options, tokenizer, batches, and the BLEU eval.

    Leaves implement :meth:`_row_metrics` (per-row token sums, jit-compiled
    by the leaf) and :meth:`_translate` (beam search, a host-driven loop,
    which is why this family's eval function is not jit-compiled whole).
    """

    eval_mode = "collect"
    eval_jit = False  # beam search is a host loop over jitted steps
    eval_host_fields = ("targets",)

    def __init__(self, meta: WorkloadMeta, data_mode: str = "real", **kwargs: Any) -> None:
        super().__init__(meta, data_mode, **kwargs)
        self.cfg, rest = split_kwargs(meta.model_kwargs, kwargs)
        self.seq_len: int = rest.pop("seq_len")
        self.vocab_path: str | None = rest.pop("vocab_path", None)
        self.beam_size: int = int(rest.pop("beam_size", decode.BEAM_SIZE))
        self.max_predict_length: int = int(rest.pop("max_predict_length", self.seq_len))
        # Beam search with a per-layer key/value cache (default), or the uncached
        # decoder that re-runs the whole prefix (kept to compare and to measure).
        self.decode_cache: bool = bool(rest.pop("decode_cache", True))
        rest.pop("max_eval_examples", None)  # consumed by BaseWorkload (eval split cap)
        if rest:
            raise TypeError(f"workload {meta.name!r}: unknown options {sorted(rest)}; valid: "
                            "model sizes (vocab_size, emb_dim, num_heads, num_layers, qkv_dim, "
                            "mlp_dim), seq_len, vocab_path, beam_size, max_predict_length, "
                            "decode_cache, max_eval_examples.")
        self._tokenizer: input_pipeline.Tokenizer | None = None
        self._dropout_rate = 0.1

    # ---- data -------------------------------------------------------------------
    def tokenizer(self, data_dir: str | None) -> input_pipeline.Tokenizer:
        if self._tokenizer is None:
            path = self.vocab_path or os.path.join(data_dir or ".",
                                                   input_pipeline.VOCAB_FILENAME)
            tok = input_pipeline.Tokenizer(path)
            if tok.vocab_size != self.cfg.vocab_size:
                raise ValueError(f"wmt: SentencePiece model {path} has {tok.vocab_size} pieces "
                                 f"but the model expects vocab_size={self.cfg.vocab_size}.")
            self._tokenizer = tok
        return self._tokenizer

    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[NumpyBatch]:
        return input_pipeline.wmt_batches(split, seed, data_dir, self.tokenizer(data_dir),
                                          global_batch_size, self.seq_len, train)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[NumpyBatch]:
        """Well-formed random batches: one pair per row, random lengths, EOS-terminated."""
        gen = np.random.default_rng(seed)

        def pair() -> tuple[list[int], list[int]]:
            return (_random_sentence(gen, self.seq_len, self.cfg.vocab_size),
                    _random_sentence(gen, self.seq_len, self.cfg.vocab_size))

        def one() -> NumpyBatch:
            if not train:
                rows = [pair() for _ in range(global_batch_size)]
                return next(input_pipeline.padded_batches(rows, self.seq_len, global_batch_size))
            packed: list[NumpyBatch] = []
            while len(packed) < global_batch_size:  # several pairs per row, as real data
                packed += input_pipeline.pack_group([pair() for _ in range(4)], self.seq_len)
            return input_pipeline.stack_rows(packed[:global_batch_size])

        if train:
            while True:
                yield one()
        for _ in range(-(-self._split_size(split) // global_batch_size)):
            yield one()

    # ---- eval ("collect" mode) ----------------------------------------------------
    def _row_metrics(self, params: Any, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        """Per-row summed token loss, correct tokens and real tokens (framework leaf)."""
        raise NotImplementedError

    def _translate(self, params: Any, inputs: np.ndarray) -> np.ndarray:
        """Beam-searched token ids [batch, max_predict_length - 1] (framework leaf)."""
        raise NotImplementedError

    def _detokenize(self, ids: np.ndarray) -> str:
        if self._tokenizer is not None:
            return self._tokenizer.decode(ids)
        # Synthetic data has no SentencePiece model: score the id strings.
        cut = int(np.argmax(ids == decode.EOS_ID)) + 1
        return " ".join(str(int(t)) for t in ids[:cut])

    def _eval_outputs(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Token sums of every row, and translations of the rows that hold a sentence."""
        del model_state, rng
        outputs = dict(self._row_metrics(params, batch))
        inputs, weights = _host(batch["inputs"]), _host(batch["weights"])
        rows = np.flatnonzero(weights.sum(axis=1) > 0)
        translated = self._translate(params, inputs[rows]) if rows.size else None
        width = self.max_predict_length - 1 if translated is None else translated.shape[1]
        predicted = np.zeros((inputs.shape[0], width), np.int32)
        if translated is not None:
            predicted[rows] = translated
        outputs["predicted"] = predicted
        outputs["has_sentence"] = (weights.sum(axis=1) > 0).astype(np.int32)
        return outputs

    def _collected_metrics(self, outputs: dict[str, np.ndarray]) -> dict[str, float]:
        tokens = max(float(outputs["tokens"].sum()), 1.0)
        rows = np.flatnonzero(outputs["has_sentence"])
        hyps = [self._detokenize(outputs["predicted"][i]) for i in rows]
        refs = [self._detokenize(outputs["targets"][i]) for i in rows]
        return {"loss": float(outputs["loss"].sum()) / tokens,
                "accuracy": float(outputs["correct"].sum()) / tokens,
                "bleu": bleu_from_statistics(bleu_statistics(hyps, refs))}

    # ---- decoding helpers -----------------------------------------------------------
    def _beam_search(self, next_top_k: decode.NextTopK, batch_size: int) -> np.ndarray:
        return decode.beam_search(next_top_k, batch_size, self.max_predict_length,
                                  beam_size=self.beam_size)


def _host(x: Any) -> np.ndarray:
    """Host numpy copy of a jax array or (possibly CUDA) torch tensor."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _random_sentence(gen: np.random.Generator, seq_len: int, vocab: int) -> list[int]:
    """Random token ids in [3, vocab) ending in EOS (ids 0-2 are pad/bos/eos)."""
    n = int(gen.integers(1, max(2, seq_len // 4)))
    return [int(t) for t in gen.integers(3, max(4, vocab), size=n)] + [decode.EOS_ID]

