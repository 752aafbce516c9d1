"""Prepare and validate ImageNet-2012 and ImageNet-v2 for the ImageNet workloads.

    python scripts/setup_imagenet.py --data-dir ~/data/tfds --manual-dir ~/Downloads/ilsvrc
    python scripts/setup_imagenet.py --data-dir ~/data/tfds --check-only

ImageNet cannot be downloaded automatically: register at
https://image-net.org/download-images, download ``ILSVRC2012_img_train.tar``
(147,897,477,120 bytes) and ``ILSVRC2012_img_val.tar`` (6,744,924,160 bytes)
and put both in ``--manual-dir``. The script checks the tars (present, exact
sizes) before starting, then lets TFDS's ``imagenet2012`` builder (version
5.1.0, the one the reference reads) write TFRecord shards under
``<data-dir>/imagenet2012/5.1.0``; labels of the validation images come
with TFDS. ImageNet-v2 (matched frequency, version 3.0.0, the benchmark's
test split) is downloaded and prepared by TFDS's ``imagenet_v2`` builder.

Resumable per dataset: a dataset that validates is skipped, TFDS renames a
prepared folder into place only when it is complete, and a folder that fails
validation is moved aside and prepared again. Validation compares each
prepared folder with :data:`MANIFESTS` (examples per split, the shard files
TFDS recorded, their exact sizes). Pass the same ``--data-dir`` to
``algoperf-ray run --data-dir``. Preparing ImageNet takes hours on one
machine (TFDS decodes each archive once, single process) and needs about
160 GB free next to the tars.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import typer

from algoperf_ray.workloads._tfds import tfds_split_problems

IMAGENET_TARS = {"ILSVRC2012_img_train.tar": 147_897_477_120,
                 "ILSVRC2012_img_val.tar": 6_744_924_160}
MANIFESTS = {
    "imagenet2012": {"name": "imagenet2012", "version": "5.1.0",
                     "splits": {"train": 1_281_167, "validation": 50_000},
                     "manual_tars": IMAGENET_TARS},
    "imagenet_v2": {"name": "imagenet_v2", "config": "matched-frequency", "version": "3.0.0",
                    "splits": {"test": 10_000}},
}


class DatasetError(Exception):
    """A prepared dataset or a manual download is wrong; the message says how to fix it."""


def dataset_dir(data_dir: Path, manifest: dict) -> Path:
    parts = [manifest["name"], manifest.get("config"), manifest["version"]]
    return Path(data_dir).joinpath(*[p for p in parts if p])


def check_manual_tars(manual_dir: Path | None, manifest: dict) -> None:
    """Raise naming every missing or truncated tar and where it must go."""
    tars = manifest.get("manual_tars", {})
    if not tars:
        return
    if manual_dir is None:
        raise DatasetError(f"{manifest['name']} needs --manual-dir, a folder holding "
                           f"{', '.join(tars)} (download them from "
                           "https://image-net.org/download-images after registering).")
    problems = []
    for name, size in tars.items():
        path = Path(manual_dir) / name
        if not path.is_file():
            problems.append(f"{name} is missing: download it from "
                            f"https://image-net.org/download-images and put it at {path}")
        elif size is not None and path.stat().st_size != size:
            problems.append(f"{path} has {path.stat().st_size} bytes, expected {size} "
                            "(incomplete download? download it again)")
    if problems:
        raise DatasetError("ImageNet manual download:\n  - " + "\n  - ".join(problems))


def validate(data_dir: Path, manifest: dict) -> None:
    """Raise :class:`DatasetError` listing every mismatch with ``manifest``."""
    root = dataset_dir(data_dir, manifest)
    info_path = root / "dataset_info.json"
    if not info_path.is_file():
        raise DatasetError(f"{info_path} not found: {manifest['name']} is not prepared; run "
                           f"`python scripts/setup_imagenet.py --data-dir {data_dir} "
                           "--manual-dir <folder with the ILSVRC2012 tars>`.")
    try:
        splits = {s["name"]: s for s in json.loads(info_path.read_text())["splits"]}
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{info_path} is not a valid TFDS dataset_info.json ({e}).") from e
    problems = []
    for name, expected in manifest["splits"].items():
        if name not in splits:
            problems.append(f"split {name!r} missing (found {sorted(splits)})")
        else:
            problems += tfds_split_problems(root, manifest["name"], splits[name], expected, name)
    if problems:
        raise DatasetError(f"{root} does not match the manifest:\n  - " + "\n  - ".join(problems))


def prepare_tfds(data_dir: Path, manifest: dict, manual_dir: Path | None) -> None:
    """Prepare with TFDS (downloads, if any, go to ``<data-dir>/downloads`` and are reused)."""
    import tensorflow_datasets as tfds

    name = "/".join(p for p in (manifest["name"], manifest.get("config")) if p)
    builder = tfds.builder(f"{name}:{manifest['version']}", data_dir=str(data_dir))
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir) if manual_dir else None)
    builder.download_and_prepare(download_dir=str(Path(data_dir) / "downloads"),
                                 download_config=config)


Prepare = Callable[[Path, dict, "Path | None"], None]


def setup_one(data_dir: Path, manifest: dict, manual_dir: Path | None = None,
              prepare: Prepare = prepare_tfds, log: Callable[[str], None] = print) -> Path:
    """Make ``data_dir`` hold a valid copy of one dataset; return its folder. Idempotent."""
    root = dataset_dir(data_dir, manifest)
    try:
        validate(data_dir, manifest)
        log(f"{root}: already prepared and valid.")
        return root
    except DatasetError as e:
        check_manual_tars(manual_dir, manifest)  # fail before moving anything
        if root.exists():
            aside = root.with_name(f"{root.name}.invalid-{int(time.time())}")
            log(f"{e}\nMoving the invalid folder to {aside} and preparing again.")
            root.rename(aside)
    log(f"Preparing {manifest['name']} under {root} ...")
    prepare(Path(data_dir), manifest, manual_dir)
    validate(data_dir, manifest)
    log(f"{root}: prepared and valid.")
    return root


def setup(data_dir: Path, manual_dir: Path | None, manifests: dict = MANIFESTS,
          prepare: Prepare = prepare_tfds, log: Callable[[str], None] = print) -> list[Path]:
    """Prepare every dataset in ``manifests`` (ImageNet first: it needs the tars)."""
    return [setup_one(data_dir, m, manual_dir, prepare, log) for m in manifests.values()]


def main(data_dir: Path = typer.Option(..., help="TFDS data directory (created if missing)."),
         manual_dir: Path = typer.Option(None, help="Folder with ILSVRC2012_img_train.tar and "
                                         "ILSVRC2012_img_val.tar."),
         check_only: bool = typer.Option(False, help="Only validate; never prepare.")) -> None:
    """Prepare and validate imagenet2012 and imagenet_v2/matched-frequency."""
    try:
        if check_only:
            for manifest in MANIFESTS.values():
                validate(data_dir, manifest)
                typer.echo(f"{dataset_dir(data_dir, manifest)}: valid.")
        else:
            setup(data_dir, manual_dir, log=typer.echo)
    except DatasetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


if __name__ == "__main__":
    typer.run(main)
