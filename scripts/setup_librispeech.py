#!/usr/bin/env python
"""Prepare LibriSpeech for the librispeech_conformer / librispeech_deepspeech workloads.

Produces the reference's stored format (what its ``librispeech_preprocess.py``
writes and both reference input pipelines read):

    <data_dir>/spm_model.vocab              SentencePiece unigram model, 1024 pieces
    <data_dir>/<split>.csv                  header ",id"; one row per kept utterance
    <data_dir>/<split>/<utt>_audio.npy      int64 PCM samples (16 kHz)
    <data_dir>/<split>/<utt>_targets.npy    int32 token ids + EOS

Steps, each resumable (re-running skips finished work):

1. ``--download``: fetch the six openslr.org/12 archives into ``--raw_dir``
   (HTTP range requests resume partial files) and extract them.
2. Tokenizer: copy ``--tokenizer`` if given, else train it as the reference
   does: a unigram SentencePiece model, vocabulary 1024, character coverage
   1.0, on the first 1e7 characters of the train-clean-100 transcripts.
3. Per split: decode each flac, drop utterances whose transcript exceeds 256
   characters or whose audio exceeds 320000 samples (20 s), tokenise, save.
   Files are written atomically; a split is finished when its CSV exists.
4. Validate: kept + dropped counts equal the LibriSpeech split sizes, every
   CSV row has both arrays, lengths and token ids are in range.

Usage:
    python scripts/setup_librispeech.py --data_dir ~/data/librispeech \\
        --raw_dir ~/data/raw --download
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

SPLITS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other",
          "test-clean")
# Utterances per split (LibriSpeech / TFDS), kept + dropped, as the reference checks.
EXPECTED_COUNTS = {"train-clean-100": 28539, "train-clean-360": 104014,
                   "train-other-500": 148688, "dev-clean": 2703, "dev-other": 2864,
                   "test-clean": 2620}
URL = "https://www.openslr.org/resources/12/{split}.tar.gz"
MAX_TRANSCRIPT_CHARS = 256
MAX_AUDIO_SAMPLES = 320000
VOCAB_SIZE = 1024
TOKENIZER_MAX_CHARS = 10_000_000
TOKENIZER_FILENAME = "spm_model.vocab"
EOS_ID = 2


class DatasetError(RuntimeError):
    """The prepared dataset is incomplete or malformed (the message names the file)."""


# ---- 1. download --------------------------------------------------------------------
def download(raw_dir: Path, splits: tuple[str, ...]) -> None:
    """Fetch (resuming partial files) and extract each split's archive."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    for split in splits:
        if (raw_dir / "LibriSpeech" / split).is_dir() and (raw_dir / f".{split}.extracted").exists():
            continue
        archive = raw_dir / f"{split}.tar.gz"
        _fetch(URL.format(split=split), archive)
        with tarfile.open(archive) as tar:
            tar.extractall(raw_dir, filter="data")
        (raw_dir / f".{split}.extracted").touch()


def _fetch(url: str, dest: Path) -> None:
    part = dest.with_suffix(dest.suffix + ".part")
    if dest.exists():
        return
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request) as resp, open(part, "ab" if have else "wb") as out:
        if have and resp.status != 206:  # server ignored the range: start over
            out.truncate(0)
        while chunk := resp.read(1 << 20):
            out.write(chunk)
    part.rename(dest)


# ---- 2. tokenizer -----------------------------------------------------------------
def transcripts(split_dir: Path) -> Iterator[tuple[Path, str, str]]:
    """(chapter dir, utterance id, transcript) in sorted speaker/chapter order."""
    for speaker in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        for chapter in sorted(p for p in speaker.iterdir() if p.is_dir()):
            trans = chapter / f"{speaker.name}-{chapter.name}.trans.txt"
            if not trans.is_file():
                continue
            for line in trans.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    utt, text = line.strip().split(" ", 1)
                    yield chapter, utt, text


def train_tokenizer(librispeech_dir: Path, out_path: Path, vocab_size: int = VOCAB_SIZE,
                    max_chars: int = TOKENIZER_MAX_CHARS) -> Path:
    """Unigram SentencePiece on the first ``max_chars`` of train-clean-100 transcripts."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "chars.txt"
        count = 0
        with open(text_file, "w", encoding="utf-8") as f:
            for _, _, text in transcripts(librispeech_dir / "train-clean-100"):
                count += len(text) + 1
                if count > max_chars:
                    break
                f.write(text + "\n")
        spm.SentencePieceTrainer.train(
            input=str(text_file), model_prefix=str(Path(tmp) / "spm"), vocab_size=vocab_size,
            model_type="unigram", character_coverage=1.0, minloglevel=2)
        tmp_out = out_path.with_suffix(".tmp")
        tmp_out.write_bytes((Path(tmp) / "spm.model").read_bytes())
        tmp_out.rename(out_path)
    return out_path


# ---- 3. preprocess ------------------------------------------------------------------
def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _process(item: tuple[Path, str, str], out_dir: Path, sp) -> str | None:
    """Utterance id if kept (saved now or earlier), None if dropped."""
    import soundfile

    chapter, utt, text = item
    if len(text) > MAX_TRANSCRIPT_CHARS:
        return None
    audio_path, target_path = out_dir / f"{utt}_audio.npy", out_dir / f"{utt}_targets.npy"
    if audio_path.exists() and target_path.exists():
        return utt
    flac = chapter / f"{utt}.flac"
    if not flac.is_file():
        return None
    audio, _ = soundfile.read(flac, dtype="int16")
    if audio.ndim != 1 or audio.shape[0] > MAX_AUDIO_SAMPLES:
        return None
    tokens = np.asarray(sp.encode(text) + [EOS_ID], np.int32)
    _save_atomic(target_path, tokens)
    _save_atomic(audio_path, audio.astype(np.int64))
    return utt


def preprocess_split(librispeech_dir: Path, data_dir: Path, split: str, sp,
                     workers: int = 8) -> dict[str, int]:
    """Write one split's arrays and CSV; returns {"kept": n, "dropped": m}."""
    csv_path = data_dir / f"{split}.csv"
    stats_path = data_dir / f".{split}.stats.json"
    if csv_path.exists() and stats_path.exists():
        return json.loads(stats_path.read_text())
    out_dir = data_dir / split
    out_dir.mkdir(parents=True, exist_ok=True)
    items = list(transcripts(librispeech_dir / split))
    with ThreadPoolExecutor(workers) as pool:
        kept = [u for u in pool.map(lambda it: _process(it, out_dir, sp), items) if u]
    tmp = csv_path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["", "id"])
        writer.writerows([i, utt] for i, utt in enumerate(kept))
    os.replace(tmp, csv_path)
    stats = {"kept": len(kept), "dropped": len(items) - len(kept)}
    stats_path.write_text(json.dumps(stats))
    return stats


# ---- 4. validate ------------------------------------------------------------------
def validate(data_dir: Path, splits: tuple[str, ...] = SPLITS,
             expected: dict[str, int] | None = None, vocab_size: int | None = None) -> None:
    """Raise :class:`DatasetError` naming the first problem found."""
    import sentencepiece as spm

    expected = EXPECTED_COUNTS if expected is None else expected
    tok = data_dir / TOKENIZER_FILENAME
    if not tok.is_file():
        raise DatasetError(f"{tok} is missing; re-run the setup (it trains the tokenizer).")
    pieces = spm.SentencePieceProcessor(model_file=str(tok)).get_piece_size()
    if vocab_size is not None and pieces != vocab_size:
        raise DatasetError(f"{tok} has {pieces} pieces, expected {vocab_size}.")
    for split in splits:
        _validate_split(data_dir, split, expected.get(split), pieces)


def _validate_split(data_dir: Path, split: str, expected: int | None, pieces: int) -> None:
    csv_path, stats_path = data_dir / f"{split}.csv", data_dir / f".{split}.stats.json"
    if not csv_path.is_file() or not stats_path.is_file():
        raise DatasetError(f"split {split!r}: {csv_path} is missing; re-run the setup.")
    with open(csv_path, newline="", encoding="utf-8") as f:
        ids = [row[1] for row in list(csv.reader(f))[1:] if row]
    stats = json.loads(stats_path.read_text())
    if stats["kept"] != len(ids):
        raise DatasetError(f"split {split!r}: {csv_path} lists {len(ids)} utterances but "
                           f"{stats_path} recorded {stats['kept']}; delete both and re-run.")
    total = stats["kept"] + stats["dropped"]
    if expected is not None and total != expected:
        raise DatasetError(f"split {split!r}: {total} utterances (kept + dropped), expected "
                           f"{expected}; the extracted LibriSpeech/{split} is incomplete.")
    for utt in ids:
        audio_path = data_dir / split / f"{utt}_audio.npy"
        target_path = data_dir / split / f"{utt}_targets.npy"
        if not audio_path.is_file() or not target_path.is_file():
            raise DatasetError(f"split {split!r}: {audio_path.name} or {target_path.name} "
                               "is missing; re-run the setup (it resumes).")
        audio = np.load(audio_path, mmap_mode="r")
        targets = np.load(target_path)
        if audio.ndim != 1 or not 0 < audio.shape[0] <= MAX_AUDIO_SAMPLES:
            raise DatasetError(f"{audio_path}: shape {audio.shape}, expected 1..320000 samples.")
        if targets.ndim != 1 or targets.size == 0 or targets[-1] != EOS_ID \
                or targets.min() < 0 or targets.max() >= pieces:
            raise DatasetError(f"{target_path}: not an EOS-terminated id sequence in "
                               f"[0, {pieces}).")


# ---- driver -----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data_dir", required=True, type=Path, help="output directory")
    ap.add_argument("--raw_dir", type=Path, help="folder holding (or receiving) LibriSpeech/")
    ap.add_argument("--download", action="store_true", help="fetch the openslr archives")
    ap.add_argument("--tokenizer", type=Path, help="existing spm_model.vocab to copy")
    ap.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    ap.add_argument("--vocab_size", type=int, default=VOCAB_SIZE)
    ap.add_argument("--no_count_check", action="store_true",
                    help="skip the split-size check (partial or test datasets)")
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args(argv)
    raw = args.raw_dir or args.data_dir / "raw"
    if args.download:
        download(raw, tuple(args.splits))
    librispeech = raw / "LibriSpeech"
    args.data_dir.mkdir(parents=True, exist_ok=True)
    tok = args.data_dir / TOKENIZER_FILENAME
    if args.tokenizer:
        tok.write_bytes(args.tokenizer.read_bytes())
    elif not tok.exists():
        train_tokenizer(librispeech, tok, args.vocab_size)
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tok))
    for split in args.splits:
        stats = preprocess_split(librispeech, args.data_dir, split, sp, args.workers)
        print(f"{split}: kept {stats['kept']}, dropped {stats['dropped']}")
    try:
        validate(args.data_dir, tuple(args.splits), {} if args.no_count_check else None)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"ok: {args.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
