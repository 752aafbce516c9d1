"""A tiny ImageNet + ImageNet-v2, prepared by scripts/setup_imagenet.py from real-format files.

ILSVRC2012 tars with JPEGs in the image-net.org layout and an ImageNet-v2
folder tree are written by :mod:`algoperf_ray.workloads._imagenet_common_fake`,
then the setup script runs the real TFDS builders on them (the v2 download
redirected to the local tree) and validates the result against a manifest
with the tiny counts.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

from algoperf_ray.workloads import _imagenet_common_fake as fake

REPO = Path(__file__).resolve().parents[2]


def load_setup_script():
    spec = importlib.util.spec_from_file_location("setup_imagenet",
                                                  REPO / "scripts" / "setup_imagenet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_tiny_imagenet(root: Path) -> tuple[Path, Path, dict]:
    """(data_dir, manual_dir, tiny manifests) of a freshly prepared tiny dataset."""
    setup = load_setup_script()
    manual, v2_root, data_dir = root / "manual", root / "v2", root / "tfds"
    counts = fake.write_ilsvrc_tars(manual)
    num_v2 = fake.write_v2_tree(v2_root)
    manifests = {
        "imagenet2012": {**setup.MANIFESTS["imagenet2012"], "splits": counts,
                         "manual_tars": dict.fromkeys(setup.IMAGENET_TARS)},
        "imagenet_v2": {**setup.MANIFESTS["imagenet_v2"], "splits": {"test": num_v2}},
    }
    prepare = functools.partial(_prepare, v2_root=v2_root)
    setup.setup(data_dir, manual, manifests, prepare=prepare, log=lambda _: None)
    return data_dir, manual, manifests


def _prepare(data_dir: Path, manifest: dict, manual_dir: Path, v2_root: Path) -> None:
    fake.prepare_tiny(data_dir, manual_dir, v2_root, manifest)


@pytest.fixture(scope="session")
def tiny_imagenet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return build_tiny_imagenet(tmp_path_factory.mktemp("tiny_imagenet"))
