"""WMT17 de-en as global host numpy batches (framework-neutral).

Follows the reference pipeline: sentence pairs come from TFDS
(``wmt17_translate/de-en`` for train/eval_train, ``wmt14_translate/de-en``
for validation/test, German source, English target), are tokenised with the
SentencePiece model (EOS appended, no BOS), pairs longer than 256 tokens on
either side are dropped, train/eval_train are shuffled (buffer 1024), and

* train: repeated forever and *packed* - several pairs per 256-token row,
  grouped 256 pairs at a time, with ``*_position`` / ``*_segmentation``;
* eval: one pass, each pair padded to 256, the last batch filled with
  all-zero rows (``weights == 0``).

Per-token ``weights`` are ``targets > 0`` as in the reference input queue.
TensorFlow is used only to read TFDS records; everything after is numpy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from algoperf_ray.workloads.wmt.config import EOS_ID

SHUFFLE_BUFFER = 1024
TOKENIZE_CHUNK = 1024
VOCAB_FILENAME = "wmt_sentencepiece_model"
TFDS_NAMES = {"train": "wmt17_translate/de-en:1.0.0", "eval_train": "wmt17_translate/de-en:1.0.0",
              "validation": "wmt14_translate/de-en:1.0.0", "test": "wmt14_translate/de-en:1.0.0"}
TFDS_SPLITS = {"train": "train", "eval_train": "train", "validation": "validation",
               "test": "test"}


class Tokenizer:
    """SentencePiece model with the reference's conventions (EOS=2 appended)."""

    def __init__(self, path: str) -> None:
        import sentencepiece as spm

        if not os.path.exists(path):
            raise FileNotFoundError(
                f"wmt: SentencePiece model not found at {path}. Run "
                "`python scripts/setup_wmt.py --data-dir DIR` (it trains the model), or pass "
                "vocab_path=... to the workload.")
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.vocab_size = self.sp.get_piece_size()

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(texts, add_eos=True)

    def decode(self, ids: np.ndarray) -> str:
        """Tokens up to and including the first EOS, as the reference cuts them.

        Like the reference, a row without EOS keeps only its first token.
        """
        ids = np.asarray(ids)
        cut = int(np.argmax(ids == EOS_ID)) + 1
        return self.sp.decode([int(t) for t in ids[:cut]])


def read_pairs(split: str, data_dir: str | None) -> Iterator[tuple[str, str]]:
    """(German, English) strings of one split, read through TFDS in file order.

    Like the reference, files are not shuffled; the buffered example shuffle
    after tokenisation is the only shuffling.
    """
    import tensorflow_datasets as tfds

    if split not in TFDS_NAMES:
        raise ValueError(f"wmt: unknown split {split!r}; valid: {sorted(TFDS_NAMES)}.")
    builder = tfds.builder(TFDS_NAMES[split], data_dir=data_dir)
    # Prepared folders read back without their builder class may lack
    # supervised_keys; the config name ("de-en") gives (source, target).
    src, tgt = builder.info.supervised_keys or tuple(TFDS_NAMES[split].split("/")[1]
                                                      .split(":")[0].split("-"))
    ds = builder.as_dataset(split=TFDS_SPLITS[split], shuffle_files=False)
    for ex in tfds.as_numpy(ds):
        yield ex[src].decode("utf-8"), ex[tgt].decode("utf-8")


def tokenize_pairs(pairs: Iterable[tuple[str, str]], tok: Tokenizer, max_len: int
                   ) -> Iterator[tuple[list[int], list[int]]]:
    """Token lists of each pair, dropping pairs longer than ``max_len``."""
    chunk: list[tuple[str, str]] = []

    def flush() -> Iterator[tuple[list[int], list[int]]]:
        srcs = tok.encode([s for s, _ in chunk])
        tgts = tok.encode([t for _, t in chunk])
        for s, t in zip(srcs, tgts, strict=True):
            if max(len(s), len(t)) <= max_len:
                yield s, t

    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == TOKENIZE_CHUNK:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()


def shuffle_buffer(items: Iterable, seed: int, size: int = SHUFFLE_BUFFER) -> Iterator:
    """tf.data-style buffered shuffle: emit a random slot, refill it."""
    gen = np.random.default_rng(seed)
    buf: list = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        i = int(gen.integers(len(buf)))
        buf[i], item = item, buf[i]
        yield item
    gen.shuffle(buf)
    yield from buf


def _segments(tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.cumsum(positions == 0, axis=-1).astype(np.int32) * (tokens != 0)


def pack_group(pairs: list[tuple[list[int], list[int]]], length: int) -> list[dict[str, np.ndarray]]:
    """Greedily pack pairs (in order) into rows of ``length`` tokens.

    A pair is appended while both sides still fit; otherwise the row is
    written out and a new one started, as the reference's packer does.
    """
    rows: list[dict[str, np.ndarray]] = []
    cur: dict[str, list[int]] = {"inputs": [], "targets": [], "inputs_position": [],
                                 "targets_position": []}

    def write() -> None:
        row = {k: np.zeros((length,), np.int32) for k in cur}
        for k, v in cur.items():
            row[k][:len(v)] = v
        for side in ("inputs", "targets"):
            row[f"{side}_segmentation"] = _segments(row[side], row[f"{side}_position"])
        rows.append(row)

    for src, tgt in pairs:
        src, tgt = src[:length], tgt[:length]
        if len(cur["inputs"]) + len(src) > length or len(cur["targets"]) + len(tgt) > length:
            write()
            cur = {k: [] for k in cur}
        cur["inputs"] += src
        cur["targets"] += tgt
        cur["inputs_position"] += range(len(src))
        cur["targets_position"] += range(len(tgt))
    if cur["inputs"]:
        write()
    return rows


def stack_rows(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    batch = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    batch["weights"] = (batch["targets"] > 0).astype(np.float32)
    return batch


def packed_batches(pairs: Iterable[tuple[list[int], list[int]]], length: int,
                   global_batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Packed training batches (groups of ``length`` pairs are packed at once)."""
    pending: list[dict[str, np.ndarray]] = []
    group: list[tuple[list[int], list[int]]] = []
    for pair in pairs:
        group.append(pair)
        if len(group) < length:
            continue
        pending += pack_group(group, length)
        group = []
        while len(pending) >= global_batch_size:
            yield stack_rows(pending[:global_batch_size])
            pending = pending[global_batch_size:]


def padded_batches(pairs: Iterable[tuple[list[int], list[int]]], length: int,
                   global_batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Eval batches: each pair padded to ``length``; last batch padded with empty rows."""
    rows: list[dict[str, np.ndarray]] = []
    for src, tgt in pairs:
        row = {"inputs": np.zeros((length,), np.int32), "targets": np.zeros((length,), np.int32)}
        row["inputs"][:len(src)] = src
        row["targets"][:len(tgt)] = tgt
        rows.append(row)
        if len(rows) == global_batch_size:
            yield stack_rows(rows)
            rows = []
    if rows:
        empty = {k: np.zeros_like(v) for k, v in rows[0].items()}
        yield stack_rows(rows + [empty] * (global_batch_size - len(rows)))


def _forever(split: str, data_dir: str | None) -> Iterator[tuple[str, str]]:
    while True:
        yield from read_pairs(split, data_dir)


def wmt_batches(split: str, seed: int, data_dir: str | None, tok: Tokenizer,
                global_batch_size: int, length: int, train: bool
                ) -> Iterator[dict[str, np.ndarray]]:
    """The reference pipeline for one split, as global numpy batches."""
    pairs = _forever(split, data_dir) if train else read_pairs(split, data_dir)
    tokens = tokenize_pairs(pairs, tok, length)
    if split in ("train", "eval_train"):
        tokens = shuffle_buffer(tokens, seed)
    if train:
        return packed_batches(tokens, length, global_batch_size)
    return padded_batches(tokens, length, global_batch_size)
