"""scripts/setup_fastmri.py on tiny archives of volumes in the real HDF5 layout."""

from __future__ import annotations

import http.server
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from algoperf_ray.workloads.fastmri import input_pipeline as ip

from .conftest import TRAIN_VOLUMES, VAL_VOLUMES, write_volume


@pytest.fixture(scope="module")
def setup_mod(repo_root: Path):
    spec = importlib.util.spec_from_file_location("setup_fastmri",
                                                  repo_root / "scripts/setup_fastmri.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def manifest(setup_mod) -> dict:
    """The real manifest with the tiny dataset's counts (val split 2 | 1 files)."""
    m = {k: dict(v) for k, v in setup_mod.MANIFEST.items()}
    m["train"].update(files=len(TRAIN_VOLUMES), slices=sum(s for s, _ in TRAIN_VOLUMES.values()))
    val = [s for _, (s, _) in sorted(VAL_VOLUMES.items())]
    m["val"].update(files=len(val), slices=sum(val), head_files=2, head_slices=sum(val[:2]))
    return m


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two release archives, laid out like the official ones (singlecoil_<split>/)."""
    root = tmp_path_factory.mktemp("fastmri_archives")
    for split, volumes in (("train", TRAIN_VOLUMES), ("val", VAL_VOLUMES)):
        folder = root / "src" / f"singlecoil_{split}"
        folder.mkdir(parents=True)
        for i, (name, (slices, width)) in enumerate(sorted(volumes.items())):
            write_volume(folder / name, slices, width, seed=i)
        with tarfile.open(root / f"knee_singlecoil_{split}.tar.xz", "w:xz") as tar:
            tar.add(folder, arcname=folder.name)
    shutil.rmtree(root / "src")
    return root


def test_setup_from_archives_then_rerun_is_a_no_op(setup_mod, manifest, archives, tmp_path):
    logs: list[str] = []
    setup_mod.setup(tmp_path, {}, archives, manifest, log=logs.append)
    assert sorted(p.name for p in (tmp_path / ip.TRAIN_DIR).iterdir()) == sorted(TRAIN_VOLUMES)
    assert not list(tmp_path.glob(".extract-*"))
    logs.clear()
    setup_mod.setup(tmp_path, {}, None, manifest, log=logs.append)  # nothing to fetch
    assert sum("already valid" in line for line in logs) == 2


def test_validation_lists_every_problem(setup_mod, manifest, archives, tmp_path):
    setup_mod.setup(tmp_path, {}, archives, manifest, log=lambda _: None)
    train = tmp_path / ip.TRAIN_DIR
    victim = sorted(train.glob("*.h5"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # truncated
    write_volume(tmp_path / ip.VAL_DIR / "file1000009.h5", 1, 368, seed=5,
                 keys=("kspace",))  # extra file, missing its reconstruction
    with pytest.raises(setup_mod.DatasetError) as err:
        setup_mod.validate(tmp_path, manifest)
    text = str(err.value)
    assert victim.name in text
    assert "file1000009.h5: missing dataset(s) ['reconstruction_esc']" in text
    assert "4 .h5 files, expected 3" in text


def test_invalid_folder_is_moved_aside_and_rebuilt(setup_mod, manifest, archives, tmp_path):
    (tmp_path / ip.TRAIN_DIR).mkdir()
    (tmp_path / ip.TRAIN_DIR / "junk.h5").write_bytes(b"not hdf5")
    setup_mod.setup(tmp_path, {}, archives, manifest, log=lambda _: None)
    assert list(tmp_path.glob(f"{ip.TRAIN_DIR}.invalid-*"))
    setup_mod.validate(tmp_path, manifest)


def test_missing_archive_without_url_says_what_to_pass(setup_mod, manifest, tmp_path):
    with pytest.raises(setup_mod.DatasetError, match="--train-url"):
        setup_mod.setup(tmp_path, {}, None, manifest, log=lambda _: None)


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support (what the fastMRI file host offers)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        start = 0
        if "Range" in self.headers:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args: object) -> None:
        pass


def test_download_resumes_a_partial_file(setup_mod, archives, tmp_path):
    def handler(*args, **kwargs):
        return _RangeHandler(*args, directory=str(archives), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/knee_singlecoil_val.tar.xz"
        full = (archives / "knee_singlecoil_val.tar.xz").read_bytes()
        dest = tmp_path / "knee_singlecoil_val.tar.xz"
        (tmp_path / "knee_singlecoil_val.tar.xz.part").write_bytes(full[:1000])
        logs: list[str] = []
        setup_mod.download(url, dest, log=logs.append)
        assert dest.read_bytes() == full
        assert any("from byte 1000" in line for line in logs)
    finally:
        server.shutdown()


def test_check_only_cli_exit_code(repo_root, tmp_path):
    proc = subprocess.run([sys.executable, str(repo_root / "scripts/setup_fastmri.py"),
                           "--data-dir", str(tmp_path), "--check-only"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "knee_singlecoil_train not found" in proc.stderr
