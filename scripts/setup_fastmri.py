"""Download, extract and validate fastMRI knee single-coil for the fastmri workloads.

    python scripts/setup_fastmri.py --data-dir ~/data/fastmri \\
        --train-url '<signed knee_singlecoil_train URL>' --val-url '<signed ... val URL>'
    python scripts/setup_fastmri.py --data-dir ~/data/fastmri --archives ~/Downloads
    python scripts/setup_fastmri.py --data-dir ~/data/fastmri --check-only

fastMRI needs a (free) data-use agreement: fill in the form at
https://fastmri.med.nyu.edu/ and you get e-mailed links to the archives
``knee_singlecoil_train.tar.xz`` and ``knee_singlecoil_val.tar.xz``. Pass
them as ``--train-url`` / ``--val-url``, or download them yourself and pass
their folder as ``--archives``. The result is
``<data-dir>/knee_singlecoil_train`` and ``<data-dir>/knee_singlecoil_val``;
pass the same ``--data-dir`` to ``algoperf-ray run``.

Re-running resumes: a split folder that validates is left alone; downloads
continue from the bytes already in ``<archive>.part`` (HTTP Range); an
archive is extracted into a scratch folder that is renamed into place only
when complete, so an interrupted extraction is simply redone; a folder that
fails validation is moved aside to ``<folder>.invalid-<time>``.

Validation checks each folder against :data:`MANIFEST` (file and slice
counts, including the 100-file validation / 99-file test split of the
official validation files) and every file's HDF5 content: ``kspace`` of
shape ``(slices, 640, W)`` complex64, ``reconstruction_esc`` of shape
``(slices, 320, 320)`` float32, the ``max`` attribute, and a file size that
can hold both datasets (a truncated download fails here). Problems are
listed together and the script exits with code 2.
"""

from __future__ import annotations

import shutil
import tarfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import typer

# Counts of the official release (fastMRI paper, knee single-coil).
MANIFEST: dict[str, dict] = {
    "train": {"folder": "knee_singlecoil_train", "archive": "knee_singlecoil_train.tar.xz",
              "files": 973, "slices": 34742},
    "val": {"folder": "knee_singlecoil_val", "archive": "knee_singlecoil_val.tar.xz",
            "files": 199, "slices": 7135,
            # sorted val files [:100] are the workload's validation split, the rest its test
            "head_files": 100, "head_slices": 3554},
}
KSPACE_ROWS, IMAGE_SIZE = 640, 320


class DatasetError(Exception):
    """The data does not match the manifest; the message lists every problem."""


def file_problems(path: Path) -> tuple[int, list[str]]:
    """(slices, problems) of one volume file."""
    import h5py
    import numpy as np

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("kspace", "reconstruction_esc") if k not in f]
            if missing:
                return 0, [f"{path.name}: missing dataset(s) {missing} (has {sorted(f)})"]
            k, r = f["kspace"], f["reconstruction_esc"]
            problems = []
            if k.ndim != 3 or k.shape[1] != KSPACE_ROWS or k.dtype != np.complex64:
                problems.append(f"{path.name}: kspace is {k.shape} {k.dtype}, expected "
                                f"(slices, {KSPACE_ROWS}, W) complex64")
            if r.shape != (k.shape[0], IMAGE_SIZE, IMAGE_SIZE) or r.dtype != np.float32:
                problems.append(f"{path.name}: reconstruction_esc is {r.shape} {r.dtype}, "
                                f"expected ({k.shape[0]}, {IMAGE_SIZE}, {IMAGE_SIZE}) float32")
            if "max" not in f.attrs:
                problems.append(f"{path.name}: attribute 'max' (the volume maximum) missing")
            needed = k.size * k.dtype.itemsize + r.size * r.dtype.itemsize
            size = path.stat().st_size
            if not problems and size < needed and not (k.compression or r.compression):
                problems.append(f"{path.name}: {size} bytes cannot hold its {needed} bytes of "
                                "data (truncated?)")
            return k.shape[0], problems
    except OSError as e:
        return 0, [f"{path.name}: not a readable HDF5 file ({e})"]


def split_problems(data_dir: Path, entry: dict) -> list[str]:
    """Every mismatch between one split folder and its manifest entry."""
    folder = Path(data_dir) / entry["folder"]
    if not folder.is_dir():
        return [f"{folder} not found"]
    files = sorted(folder.glob("*.h5"))
    problems = []
    if len(files) != entry["files"]:
        problems.append(f"{folder}: {len(files)} .h5 files, expected {entry['files']}")
    slices = []
    for path in files:
        n, found = file_problems(path)
        slices.append(n)
        problems += [f"{folder.name}/{p}" for p in found]
    if sum(slices) != entry["slices"]:
        problems.append(f"{folder}: {sum(slices)} slices, expected {entry['slices']}")
    head = entry.get("head_files")
    if head and sum(slices[:head]) != entry["head_slices"]:
        problems.append(f"{folder}: the first {head} files (validation split) hold "
                        f"{sum(slices[:head])} slices, expected {entry['head_slices']}")
    return problems


def validate(data_dir: Path, manifest: dict = MANIFEST) -> None:
    problems = [p for entry in manifest.values() for p in split_problems(data_dir, entry)]
    if problems:
        raise DatasetError(f"{data_dir} does not match the fastMRI manifest:\n  - "
                           + "\n  - ".join(problems))


def download(url: str, dest: Path, log: Callable[[str], None] = print,
             chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` to ``dest``, resuming a ``dest.part`` left by an earlier run."""
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request) as response:
        if have and response.status != 206:  # the server ignored Range: start over
            log(f"{url}: server cannot resume; downloading from the start.")
            have = 0
        log(f"downloading {dest.name} (from byte {have})")
        with open(part, "ab" if have else "wb") as out:
            shutil.copyfileobj(response, out, chunk)
    part.rename(dest)
    return dest


def extract(archive: Path, data_dir: Path, folder: str) -> Path:
    """Unpack ``archive`` and move its single-coil folder to ``data_dir/folder``.

    The archives hold ``singlecoil_train/`` or ``singlecoil_val/``; any folder
    with .h5 files is accepted. Extraction goes to a scratch folder first.
    """
    scratch = data_dir / f".extract-{folder}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    found = sorted({p.parent for p in scratch.rglob("*.h5")})
    if len(found) != 1:
        raise DatasetError(f"{archive}: expected one folder of .h5 files, found "
                           f"{[str(p.relative_to(scratch)) for p in found] or 'none'}.")
    found[0].rename(data_dir / folder)
    shutil.rmtree(scratch)
    return data_dir / folder


def setup(data_dir: Path, urls: dict[str, str | None], archives: Path | None = None,
          manifest: dict = MANIFEST, log: Callable[[str], None] = print) -> None:
    """Make each split folder valid: keep, or (re)download, extract and check it."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for split, entry in manifest.items():
        target = data_dir / entry["folder"]
        problems = split_problems(data_dir, entry)
        if not problems:
            log(f"{target}: already valid.")
            continue
        if target.exists():
            aside = target.with_name(f"{target.name}.invalid-{int(time.time())}")
            log("\n  - ".join([f"{target} is invalid:", *problems]) + f"\nMoving it to {aside}.")
            target.rename(aside)
        archive = (Path(archives) / entry["archive"]) if archives else None
        if archive is None or not archive.exists():
            if not urls.get(split):
                raise DatasetError(f"{split}: no {entry['archive']} "
                                   f"{'in ' + str(archives) if archives else 'given'}; pass "
                                   f"--{split}-url (from https://fastmri.med.nyu.edu/) or "
                                   "--archives <folder holding the archive>.")
            archive = download(urls[split], data_dir / entry["archive"], log)
        log(f"extracting {archive}")
        extract(archive, data_dir, entry["folder"])
    validate(data_dir, manifest)
    log(f"{data_dir}: fastMRI knee single-coil is ready.")


def main(data_dir: Path = typer.Option(..., help="Folder for knee_singlecoil_{train,val}."),
         train_url: str = typer.Option(None, help="Signed URL of knee_singlecoil_train.tar.xz."),
         val_url: str = typer.Option(None, help="Signed URL of knee_singlecoil_val.tar.xz."),
         archives: Path = typer.Option(None, help="Folder already holding the .tar.xz files."),
         check_only: bool = typer.Option(False, help="Only validate; never download.")) -> None:
    """Download, extract and validate fastMRI knee single-coil."""
    try:
        if check_only:
            validate(data_dir)
            typer.echo(f"{data_dir}: valid.")
        else:
            setup(data_dir, {"train": train_url, "val": val_url}, archives, log=typer.echo)
    except DatasetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


if __name__ == "__main__":
    typer.run(main)
