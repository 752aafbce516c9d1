"""Tiny fastMRI knee single-coil datasets in the real HDF5 layout.

Each volume is a stack of smooth random "anatomy" images: the k-space is the
centred orthonormal 2-D FFT of a 640 x W image (complex64, as in the real
files), ``reconstruction_esc`` its 320 x 320 centre magnitude (float32), and
the ``max`` attribute that reconstruction's maximum, so the zero-filled
input really is an undersampled version of the target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algoperf_ray.workloads.fastmri import input_pipeline

# Real files hold 640 k-space rows; widths vary by volume (368 is the most common).
KSPACE_ROWS = 640
TRAIN_VOLUMES = {"file1000001.h5": (3, 368), "file1000002.h5": (2, 372)}
VAL_VOLUMES = {"file1000000.h5": (2, 368), "file1000003.h5": (1, 368),
               "file1000004.h5": (2, 370)}
NUM_VALIDATION_FILES = 2  # the tiny val folder splits 2 files | 1 file


def _smooth_image(gen: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A positive image of a few soft blobs, intensity scale like the real data (~1e-4)."""
    y, x = np.mgrid[0:rows, 0:cols]
    image = np.zeros((rows, cols))
    for _ in range(6):
        cy, cx = gen.uniform(0.3, 0.7) * rows, gen.uniform(0.3, 0.7) * cols
        r = gen.uniform(0.05, 0.2) * min(rows, cols)
        image += gen.uniform(0.2, 1.0) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    # Fine texture: high frequencies that the 4x undersampling loses.
    image += 0.3 * image.max() * gen.random((rows, cols))
    return 1e-4 * image


def write_volume(path: Path, num_slices: int, width: int, seed: int,
                 keys: tuple[str, ...] = ("kspace", "reconstruction_esc")) -> None:
    """One volume file in the real layout (``keys`` lets a test drop a dataset)."""
    import h5py

    gen = np.random.default_rng(seed)
    kspace = np.empty((num_slices, KSPACE_ROWS, width), np.complex64)
    recon = np.empty((num_slices, 320, 320), np.float32)
    top, left = (KSPACE_ROWS - 320) // 2, (width - 320) // 2
    for s in range(num_slices):
        image = _smooth_image(gen, KSPACE_ROWS, width)
        kspace[s] = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(image), norm="ortho"))
        recon[s] = image[top:top + 320, left:left + 320]
    with h5py.File(path, "w") as f:
        if "kspace" in keys:
            f.create_dataset("kspace", data=kspace)
        if "reconstruction_esc" in keys:
            f.create_dataset("reconstruction_esc", data=recon)
        f.attrs["max"] = float(recon.max())
        f.attrs["acquisition"] = "CORPD_FBK"


def write_dataset(data_dir: Path) -> Path:
    """The tiny train and val folders under ``data_dir``."""
    for j, (folder, volumes) in enumerate(((input_pipeline.TRAIN_DIR, TRAIN_VOLUMES),
                                           (input_pipeline.VAL_DIR, VAL_VOLUMES))):
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
        for i, (name, (slices, width)) in enumerate(sorted(volumes.items())):
            write_volume(data_dir / folder / name, slices, width, seed=100 * j + i)
    return data_dir


@pytest.fixture(scope="session")
def fastmri_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("fastmri"))


@pytest.fixture
def tiny_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split the 3 tiny val files 2 | 1 instead of the real 100 | 99."""
    monkeypatch.setattr(input_pipeline, "NUM_VALIDATION_FILES", NUM_VALIDATION_FILES)
