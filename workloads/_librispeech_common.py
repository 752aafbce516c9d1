"""Framework-neutral LibriSpeech workload logic shared by Conformer and DeepSpeech.

Options, real and synthetic batches, and the eval metrics are written here
once. The eval runs in the shared loop's "collect" mode: per batch the leaf
returns, for this process's rows, the per-frame argmax ids, the logit
paddings and the per-utterance CTC loss; here, over every row of the split
(all batches, all ranks), the frames are greedy-CTC decoded (merge repeats,
drop blanks), detokenised, and word errors are counted with rapidfuzz's
Levenshtein distance over word lists. ``wer`` is corpus-level: total word
edits / total reference words, as the reference computes it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from algoperf_ray.benchmark.meta import WorkloadMeta
from algoperf_ray.workload.base import BaseWorkload, NumpyBatch
from algoperf_ray.workloads import _librispeech_common_data as data
from algoperf_ray.workloads import _librispeech_common_frontend as fe

DROPOUT_RATE = 0.1
# Workload options that are not model-config fields.
DATA_OPTIONS = ("max_audio_length", "max_target_length", "tokenizer_path")


def greedy_ctc_decode(frames: np.ndarray, paddings: np.ndarray, blank: int = 0) -> list[np.ndarray]:
    """Per row: argmax ids of the valid frames with repeats merged and blanks dropped."""
    out = []
    for ids, pad in zip(frames, paddings, strict=True):
        ids = np.asarray(ids)[np.asarray(pad) == 0]
        if ids.size:
            ids = ids[np.concatenate([[True], ids[1:] != ids[:-1]])]
        out.append(ids[ids != blank])
    return out


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(word-level Levenshtein distance, number of reference words)."""
    from rapidfuzz.distance import Levenshtein

    ref_words = reference.split()
    return Levenshtein.distance(hypothesis.split(), ref_words), len(ref_words)


def ctc_wer_metrics(outputs: dict[str, np.ndarray], detokenize: Any) -> dict[str, float]:
    """``ctc_loss`` (per target token) and corpus ``wer`` from collected eval outputs."""
    weights = outputs["weights"].astype(np.float64)
    keep = weights > 0
    tokens = ((1.0 - outputs["target_paddings"]).sum(axis=1) * weights).sum()
    # where, not a product: a padding row's loss may be inf (infeasible alignment).
    loss = float(np.where(keep, outputs["per_example_loss"].astype(np.float64), 0.0).sum())
    hyps = greedy_ctc_decode(outputs["frames"][keep], outputs["logit_paddings"][keep])
    errors = words = 0
    for hyp, tgt, pad in zip(hyps, outputs["targets"][keep], outputs["target_paddings"][keep],
                             strict=True):
        e, n = word_errors(detokenize(hyp), detokenize(tgt[pad == 0]))
        errors, words = errors + e, words + n
    return {"ctc_loss": loss / max(tokens, 1.0), "wer": errors / max(words, 1)}


class LibrispeechWorkload(BaseWorkload):
    """Options, data and eval metrics of both LibriSpeech families (neutral).

    Families set ``config_fields`` (their model config's field names) and the
    leaves build the model. Options: model-config fields (reduced sizes),
    ``max_audio_length`` / ``max_target_length`` (data lengths; defaults are the
    reference's 320000 samples and 256 tokens), ``tokenizer_path``.
    """

    eval_mode = "collect"
    eval_host_fields = ("targets", "target_paddings", "weights")
    cache_eval = False  # ~5k utterances x 320k samples: too large to keep in memory
    config_fields: tuple[str, ...] = ()

    def __init__(self, meta: WorkloadMeta, data_mode: str = "real", **kwargs: Any) -> None:
        super().__init__(meta, data_mode, **kwargs)
        opts = {**meta.model_kwargs, **self.options}
        unknown = sorted(set(opts) - set(self.config_fields) - set(DATA_OPTIONS)
                         - {"max_eval_examples"})
        if unknown:
            raise TypeError(f"workload {meta.name!r}: unknown options {unknown}; valid: "
                            f"{sorted(self.config_fields)} and {list(DATA_OPTIONS)}.")
        self.model_kwargs = {k: v for k, v in opts.items() if k in self.config_fields}
        self.max_audio_length = int(opts.get("max_audio_length", fe.MAX_AUDIO_LENGTH))
        self.max_target_length = int(opts.get("max_target_length", fe.MAX_TARGET_LENGTH))
        if fe.num_frames(self.max_audio_length) < 4:
            raise ValueError(f"workload {meta.name!r}: max_audio_length="
                             f"{self.max_audio_length} is too short for the 25 ms front end.")
        self.tokenizer_path: str | None = opts.get("tokenizer_path")
        self._tokenizer: data.Tokenizer | None = None
        self._data_dir: str | None = None
        self._dropout_rate: Any = DROPOUT_RATE

    @property
    def vocab_size(self) -> int:
        return int(self.model_kwargs.get("vocab_size", 1024))

    def _rate(self, dropout_rate: Any) -> Any:
        """The call's rate (may be traced), else the one given to ``init_model_fn``."""
        return self._dropout_rate if dropout_rate is None else dropout_rate

    # ---- data ----------------------------------------------------------------------
    def tokenizer(self, data_dir: str | None) -> data.Tokenizer:
        if self._tokenizer is None:
            path = self.tokenizer_path or os.path.join(data_dir or ".", data.TOKENIZER_FILENAME)
            tok = data.Tokenizer(path)
            if tok.vocab_size > self.vocab_size:
                raise ValueError(f"workload {self.meta.name!r}: tokenizer {path} has "
                                 f"{tok.vocab_size} pieces but the model outputs only "
                                 f"vocab_size={self.vocab_size}.")
            self._tokenizer = tok
        return self._tokenizer

    def _real_batches(self, split: str, seed: int, data_dir: str | None,
                      global_batch_size: int, train: bool) -> Iterator[NumpyBatch]:
        if data_dir is None:
            raise ValueError(f"workload {self.meta.name!r}: real data needs data_dir "
                             "(the output of scripts/setup_librispeech.py).")
        self.tokenizer(data_dir)  # fail early, and have it for the eval
        return data.librispeech_batches(data_dir, split, seed, global_batch_size, train,
                                        self.max_audio_length, self.max_target_length)

    def _synthetic_batches(self, split: str, seed: int, global_batch_size: int,
                           train: bool) -> Iterator[NumpyBatch]:
        """Valid random batches: real shapes/dtypes, prefix paddings, CTC-feasible targets."""
        gen = np.random.default_rng(seed)
        max_tokens = min(self.max_target_length,
                         max(1, fe.subsampled_length(self.max_audio_length) // 4))

        def one(n: int) -> NumpyBatch:
            rows = [data.synthetic_example(gen, self.max_audio_length, self.max_target_length,
                                           self.vocab_size, max_tokens) for _ in range(n)]
            return data.stack(rows, global_batch_size, with_weights=not train)

        if train:
            while True:
                yield one(global_batch_size)
        remaining = self._split_size(split)
        for _ in range(max(1, math.ceil(remaining / global_batch_size))):
            yield one(max(1, min(global_batch_size, remaining)))
            remaining -= global_batch_size

    # ---- eval ("collect" mode) -----------------------------------------------------
    def _detokenize(self, ids: np.ndarray) -> str:
        if self._tokenizer is not None:
            return self._tokenizer.decode(ids)
        # Synthetic data has no SentencePiece model: each id is one "word".
        return " ".join(str(int(i)) for i in ids if int(i) != data.EOS_ID)

    def _collected_metrics(self, outputs: dict[str, np.ndarray]) -> dict[str, float]:
        return ctc_wer_metrics(outputs, self._detokenize)

    @staticmethod
    def _label_parts(label_batch: Any) -> tuple[Any, Any | None]:
        """(targets, paddings or None): accepts the reference's tuple or plain targets.

        Plain targets (``batch['targets']``) get their paddings from id 0, which
        is never a real target token (it is SentencePiece's <unk>/CTC blank).
        """
        if isinstance(label_batch, (tuple, list)):
            return label_batch[0], label_batch[1]
        return label_batch, None
