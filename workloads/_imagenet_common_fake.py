"""Tiny ImageNet and ImageNet-v2 in their real download formats, for tests and smoke runs.

``write_ilsvrc_tars`` writes ``ILSVRC2012_img_train.tar`` (one inner tar per
class, ``<wnid>.tar`` holding ``<wnid>_<i>.JPEG``) and
``ILSVRC2012_img_val.tar`` (flat ``ILSVRC2012_val_<8 digits>.JPEG``; TFDS
supplies their labels), exactly the layout of the files from image-net.org.
``write_v2_tree`` writes the extracted ImageNet-v2 archive layout
(``imagenetv2-matched-frequency-format-val/<class id>/<n>.jpeg``).
``prepare_tiny`` runs the real TFDS builders on them (ImageNet-v2's download
is redirected to the local tree), so the prepared folders are what
``scripts/setup_imagenet.py`` produces from the real downloads.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from unittest import mock

import numpy as np

V2_TOPDIR = "imagenetv2-matched-frequency-format-val"


def jpeg_bytes(gen: np.random.Generator, height: int, width: int) -> bytes:
    """A smooth random colour image with noise (so crops and flips change pixels)."""
    from PIL import Image

    yy, xx = np.mgrid[:height, :width]
    base = gen.uniform(0, 255, size=3)
    slope = gen.uniform(-2, 2, size=(2, 3))
    image = base + yy[..., None] * slope[0] + xx[..., None] * slope[1]
    image = np.clip(image + gen.normal(0, 12, size=image.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=90)
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _random_size(gen: np.random.Generator) -> tuple[int, int]:
    return int(gen.integers(40, 96)), int(gen.integers(40, 96))


def write_ilsvrc_tars(manual_dir: Path, num_classes: int = 3, per_class: int = 4,
                      num_val: int = 8, seed: int = 0) -> dict[str, int]:
    """Write the two ILSVRC2012 tars into ``manual_dir``; return examples per split."""
    from tensorflow_datasets.datasets.imagenet2012 import imagenet_common

    wnids = imagenet_common.label_names_file().read_text().split()[:num_classes]
    gen = np.random.default_rng(seed)
    manual_dir = Path(manual_dir)
    manual_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(manual_dir / "ILSVRC2012_img_train.tar", "w") as outer:
        for wnid in wnids:
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as tar:
                for i in range(per_class):
                    _add(tar, f"{wnid}_{i}.JPEG", jpeg_bytes(gen, *_random_size(gen)))
            _add(outer, f"{wnid}.tar", inner.getvalue())
    with tarfile.open(manual_dir / "ILSVRC2012_img_val.tar", "w") as tar:
        for i in range(1, num_val + 1):
            _add(tar, f"ILSVRC2012_val_{i:08d}.JPEG", jpeg_bytes(gen, *_random_size(gen)))
    return {"train": num_classes * per_class, "validation": num_val}


def write_v2_tree(root: Path, num_classes: int = 3, per_class: int = 2, seed: int = 1) -> int:
    """Write the extracted ImageNet-v2 layout under ``root``; return the example count."""
    gen = np.random.default_rng(seed)
    for label in range(num_classes):
        folder = Path(root) / V2_TOPDIR / str(label * 7)  # class ids need not be contiguous
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (folder / f"{i}.jpeg").write_bytes(jpeg_bytes(gen, *_random_size(gen)))
    return num_classes * per_class


def prepare_tiny(data_dir: Path, manual_dir: Path, v2_root: Path, manifest: dict) -> None:
    """Prepare one tiny dataset with its real TFDS builder (``prepare`` of the setup script)."""
    import tensorflow_datasets as tfds

    name = "/".join(p for p in (manifest["name"], manifest.get("config")) if p)
    builder = tfds.builder(f"{name}:{manifest['version']}", data_dir=str(data_dir))
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract",
                           return_value=str(v2_root)):
        builder.download_and_prepare(download_dir=str(Path(data_dir) / "downloads"),
                                     download_config=config)
