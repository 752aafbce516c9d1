"""Download, prepare and validate ogbg-molpcba for the ogbg workloads.

    python scripts/setup_ogbg.py --data-dir ~/data/tfds          # download + prepare + check
    python scripts/setup_ogbg.py --data-dir ~/data/tfds --check-only

TFDS's ``ogbg_molpcba`` builder downloads the OGB archive (its checksum is
verified by TFDS) into ``<data-dir>/downloads`` and writes TFRecord shards
under ``<data-dir>/ogbg_molpcba/0.1.3``. Re-running resumes: a download that
finished is reused, TFDS only renames a prepared folder into place when it
is complete, and a prepared folder that fails validation is moved aside and
prepared again. Validation checks the folder against :data:`MANIFEST`:
examples per split, the shard files TFDS recorded, and their sizes (a
TFRecord file is its records' bytes plus 16 bytes of framing per record).
Pass the same ``--data-dir`` as ``--data-dir`` of ``algoperf-ray run``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import typer

from algoperf_ray.workloads._tfds import tfds_split_problems

MANIFEST = {
    "name": "ogbg_molpcba",
    "version": "0.1.3",
    "splits": {"train": 350343, "validation": 43793, "test": 43793},
}


class DatasetError(Exception):
    """The prepared dataset does not match the manifest; the message says how."""


def dataset_dir(data_dir: Path, manifest: dict = MANIFEST) -> Path:
    return Path(data_dir) / manifest["name"] / manifest["version"]


def validate(data_dir: Path, manifest: dict = MANIFEST) -> None:
    """Raise :class:`DatasetError` listing every mismatch with ``manifest``."""
    root = dataset_dir(data_dir, manifest)
    info_path = root / "dataset_info.json"
    if not info_path.is_file():
        raise DatasetError(f"{info_path} not found: the dataset is not prepared; run "
                           f"`python scripts/setup_ogbg.py --data-dir {data_dir}`.")
    try:
        splits = {s["name"]: s for s in json.loads(info_path.read_text())["splits"]}
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{info_path} is not a valid TFDS dataset_info.json ({e}).") from e
    problems = []
    for name, expected in manifest["splits"].items():
        if name not in splits:
            problems.append(f"split {name!r} missing (found {sorted(splits)})")
        else:
            problems += tfds_split_problems(root, root.parent.name, splits[name], expected, name)
    if problems:
        raise DatasetError(f"{root} does not match the manifest:\n  - " + "\n  - ".join(problems))


def prepare_tfds(data_dir: Path, manifest: dict = MANIFEST) -> None:
    """Download and prepare with TFDS (resumable: finished downloads are reused)."""
    import tensorflow_datasets as tfds

    name = f"{manifest['name']}:{manifest['version']}"
    builder = tfds.builder(name, data_dir=str(data_dir))
    builder.download_and_prepare(download_dir=str(Path(data_dir) / "downloads"))


def setup(data_dir: Path, manifest: dict = MANIFEST,
          prepare: Callable[[Path, dict], None] = prepare_tfds,
          log: Callable[[str], None] = print) -> Path:
    """Make ``data_dir`` hold a valid dataset; return its folder. Idempotent."""
    root = dataset_dir(data_dir, manifest)
    try:
        validate(data_dir, manifest)
        log(f"{root}: already prepared and valid.")
        return root
    except DatasetError as e:
        if root.exists():
            aside = root.with_name(f"{root.name}.invalid-{int(time.time())}")
            log(f"{e}\nMoving the invalid folder to {aside} and preparing again.")
            root.rename(aside)
    prepare(Path(data_dir), manifest)
    validate(data_dir, manifest)
    log(f"{root}: prepared and valid.")
    return root


def main(data_dir: Path = typer.Option(..., help="TFDS data directory (created if missing)."),
         check_only: bool = typer.Option(False, help="Only validate; never download.")) -> None:
    """Download, prepare and validate ogbg_molpcba."""
    try:
        if check_only:
            validate(data_dir)
            typer.echo(f"{dataset_dir(data_dir)}: valid.")
        else:
            setup(data_dir, log=typer.echo)
    except DatasetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


if __name__ == "__main__":
    typer.run(main)
