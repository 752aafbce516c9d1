"""Download, prepare and validate WMT for the wmt workloads, and train the tokenizer.

    python scripts/setup_wmt.py --data-dir ~/data/wmt              # everything
    python scripts/setup_wmt.py --data-dir ~/data/wmt --check-only

Steps, each skipped when its output already validates (so re-running after
an interruption resumes where it stopped):

1. TFDS ``wmt17_translate/de-en:1.0.0`` (train, eval_train) and
   ``wmt14_translate/de-en:1.0.0`` (validation = newstest2013, test =
   newstest2014): downloaded into ``<data-dir>/downloads`` (TFDS reuses
   finished downloads) and written as TFRecord shards. A prepared folder
   that fails validation is moved aside and prepared again.
2. The SentencePiece model ``<data-dir>/wmt_sentencepiece_model``, trained
   as the reference does: unigram, 32000 pieces, character coverage 1.0,
   on the first ~10^7 characters of wmt17 train (German and English lines).
   It is written to a temporary file and renamed into place when complete.

Validation checks :data:`MANIFEST`: examples per used split, the shard files
TFDS recorded in ``dataset_info.json`` and their byte sizes (records' bytes
plus 16 bytes of TFRecord framing per record), and the tokenizer's size and
EOS id. Pass the same ``--data-dir`` to ``algoperf-ray run --data-dir``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import typer

from algoperf_ray.workloads._tfds import tfds_split_problems

MANIFEST = {
    "datasets": [
        {"name": "wmt17_translate", "config": "de-en", "version": "1.0.0",
         "splits": {"train": 5906184}},
        {"name": "wmt14_translate", "config": "de-en", "version": "1.0.0",
         "splits": {"validation": 3000, "test": 3003}},
    ],
    "tokenizer": {"file": "wmt_sentencepiece_model", "vocab_size": 32000, "eos_id": 2,
                  "max_corpus_chars": 10_000_000, "model_type": "unigram",
                  "character_coverage": 1.0},
}


class DatasetError(Exception):
    """The prepared data does not match the manifest; the message says how to fix it."""


def dataset_dir(data_dir: Path, ds: dict) -> Path:
    return Path(data_dir) / ds["name"] / ds["config"] / ds["version"]


def validate_dataset(data_dir: Path, ds: dict) -> None:
    """Raise :class:`DatasetError` listing every mismatch of one TFDS dataset."""
    root = dataset_dir(data_dir, ds)
    info_path = root / "dataset_info.json"
    if not info_path.is_file():
        raise DatasetError(f"{info_path} not found: {ds['name']} is not prepared; run "
                           f"`python scripts/setup_wmt.py --data-dir {data_dir}`.")
    try:
        splits = {s["name"]: s for s in json.loads(info_path.read_text())["splits"]}
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{info_path} is not a valid TFDS dataset_info.json ({e}).") from e
    problems = []
    for name, expected in ds["splits"].items():
        if name not in splits:
            problems.append(f"split {name!r} missing (found {sorted(splits)})")
        else:
            problems += tfds_split_problems(root, ds["name"], splits[name], expected, name)
    if problems:
        raise DatasetError(f"{root} does not match the manifest:\n  - " + "\n  - ".join(problems))


def validate_tokenizer(data_dir: Path, manifest: dict = MANIFEST) -> None:
    spec = manifest["tokenizer"]
    path = Path(data_dir) / spec["file"]
    if not path.is_file() or path.stat().st_size == 0:
        raise DatasetError(f"{path} not found or empty: the SentencePiece model is not trained; "
                           f"run `python scripts/setup_wmt.py --data-dir {data_dir}`.")
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError) as e:
        raise DatasetError(f"{path} is not a SentencePiece model ({e}); delete it and re-run "
                           "setup to train it again.") from e
    if sp.get_piece_size() != spec["vocab_size"] or sp.eos_id() != spec["eos_id"]:
        raise DatasetError(f"{path} has {sp.get_piece_size()} pieces and EOS id {sp.eos_id()}; "
                           f"expected {spec['vocab_size']} and {spec['eos_id']}. Delete it and "
                           "re-run setup.")


def validate(data_dir: Path, manifest: dict = MANIFEST) -> None:
    """Validate every dataset and the tokenizer; one error lists all problems."""
    problems = []
    for check in [lambda ds=ds: validate_dataset(data_dir, ds) for ds in manifest["datasets"]] \
            + [lambda: validate_tokenizer(data_dir, manifest)]:
        try:
            check()
        except DatasetError as e:
            problems.append(str(e))
    if problems:
        raise DatasetError("\n".join(problems))


def prepare_tfds(data_dir: Path, ds: dict) -> None:
    """Download and prepare with TFDS (resumable: finished downloads are reused)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(f"{ds['name']}/{ds['config']}:{ds['version']}", data_dir=str(data_dir))
    builder.download_and_prepare(download_dir=str(Path(data_dir) / "downloads"))


def training_lines(data_dir: Path, max_chars: int) -> Iterable[str]:
    """German and English lines of wmt17 train, about ``max_chars`` characters."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from algoperf_ray.workloads.wmt.input_pipeline import read_pairs

    count = 0
    for de, en in read_pairs("train", str(data_dir)):
        for line in (de, en):
            yield line
            count += len(line) + 1
        if count >= max_chars:
            return


def train_tokenizer(data_dir: Path, manifest: dict = MANIFEST,
                    lines: Callable[[Path, int], Iterable[str]] = training_lines) -> Path:
    """Train the SentencePiece model and rename it into place when complete."""
    import sentencepiece as spm

    spec = manifest["tokenizer"]
    target = Path(data_dir) / spec["file"]
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with corpus.open("w", encoding="utf-8") as f:
            for line in lines(Path(data_dir), spec["max_corpus_chars"]):
                f.write(line.replace("\n", " ") + "\n")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(Path(tmp) / "sp"), vocab_size=spec["vocab_size"],
            model_type=spec["model_type"], character_coverage=spec["character_coverage"],
            minloglevel=2)
        os.replace(Path(tmp) / "sp.model", target)
    return target


def _ensure_dataset(data_dir: Path, ds: dict, prepare: Callable, log: Callable) -> None:
    root = dataset_dir(data_dir, ds)
    try:
        validate_dataset(data_dir, ds)
        log(f"{root}: already prepared and valid.")
        return
    except DatasetError as e:
        if root.exists():
            aside = root.with_name(f"{root.name}.invalid-{int(time.time())}")
            log(f"{e}\nMoving the invalid folder to {aside} and preparing again.")
            root.rename(aside)
    prepare(Path(data_dir), ds)
    validate_dataset(data_dir, ds)
    log(f"{root}: prepared and valid.")


def setup(data_dir: Path, manifest: dict = MANIFEST,
          prepare: Callable[[Path, dict], None] = prepare_tfds,
          lines: Callable[[Path, int], Iterable[str]] = training_lines,
          log: Callable[[str], None] = print) -> None:
    """Make ``data_dir`` hold valid WMT data and tokenizer. Idempotent and resumable."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    for ds in manifest["datasets"]:
        _ensure_dataset(data_dir, ds, prepare, log)
    try:
        validate_tokenizer(data_dir, manifest)
        log("SentencePiece model: already trained and valid.")
    except DatasetError:
        log("Training the SentencePiece model (a few minutes)...")
        train_tokenizer(data_dir, manifest, lines)
        validate_tokenizer(data_dir, manifest)
        log(f"{Path(data_dir) / manifest['tokenizer']['file']}: trained and valid.")


def main(data_dir: Path = typer.Option(..., help="Data directory (created if missing)."),
         check_only: bool = typer.Option(False, help="Only validate; never download.")) -> None:
    """Download, prepare and validate WMT17/WMT14 de-en and the SentencePiece model."""
    try:
        if check_only:
            validate(data_dir)
            typer.echo(f"{data_dir}: valid.")
        else:
            setup(data_dir, log=typer.echo)
    except DatasetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


if __name__ == "__main__":
    typer.run(main)
