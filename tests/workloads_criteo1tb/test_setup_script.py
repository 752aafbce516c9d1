"""scripts/setup_criteo1tb.py on tiny gzipped days served by a local HTTP server."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

DAY_LINES = {0: 7, 1: 5, 23: 40}  # 3 + 2 + 14 shards of 3 lines
PER_SHARD = 3


def _script(repo_root: Path):
    spec = importlib.util.spec_from_file_location(
        "setup_criteo1tb", repo_root / "scripts" / "setup_criteo1tb.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=N-`` support; records the ranges asked for."""

    ranges: list[str] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        asked = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not asked or not path.is_file():
            return super().do_GET()
        type(self).ranges.append(asked)
        data = path.read_bytes()[int(asked.removeprefix("bytes=").rstrip("-")):]
        self.send_response(206)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "remote"
    root.mkdir()
    gen = np.random.default_rng(1)
    texts = {}
    for day, n in DAY_LINES.items():
        texts[day] = "".join(_line(gen) + "\n" for _ in range(n)).encode()
        (root / f"day_{day}.gz").write_bytes(gzip.compress(texts[day]))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    RangeHandler.ranges = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, texts
    httpd.shutdown()
    httpd.server_close()


def _line(gen) -> str:
    labels = [str(int(gen.integers(0, 2)))] + [str(int(gen.integers(0, 99))) for _ in range(13)]
    return "\t".join(labels + [f"{int(gen.integers(0, 2**32)):08x}" for _ in range(26)])


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"day_lines": DAY_LINES, "lines_per_shard": PER_SHARD}))
    return path


def _run(mod, tmp_path, url, **kw):
    mod.run(tmp_path / "data", tmp_path / "dl", list(DAY_LINES), url,
            mod.Manifest.load(str(_manifest(tmp_path))), **kw)


def test_prepares_reference_layout_and_validates(repo_root, tmp_path, server):
    url, _, texts = server
    mod = _script(repo_root)
    _run(mod, tmp_path, url)
    data = tmp_path / "data"
    for day, text in texts.items():
        shards = sorted(data.glob(f"day_{day}_*"))
        assert [p.name for p in shards] == [f"day_{day}_{i:02d}" for i in
                                            range(-(-DAY_LINES[day] // PER_SHARD))]
        assert b"".join(p.read_bytes() for p in shards) == text
    record = json.loads((data / mod.MANIFEST_NAME).read_text())
    assert record["23"]["day_23_13"] == {"lines": 1, "bytes": (data / "day_23_13").stat().st_size}
    mtimes = {p: p.stat().st_mtime_ns for p in data.iterdir()}
    _run(mod, tmp_path, url, full=True)  # second run: nothing rewritten, full check passes
    assert {p: p.stat().st_mtime_ns for p in data.iterdir() if p in mtimes} == mtimes
    # The workload pipeline reads what the script wrote.
    from algoperf_ray.workloads.criteo1tb import input_pipeline as ip

    with pytest.raises(FileNotFoundError, match="day_23_19"):  # day 23 has shards 00..13 here
        list(ip.criteo_batches(str(data), "validation", 8, seed=0, train=False))
    batches = list(ip.criteo_batches(str(data), "test", 8, seed=0, train=False))
    assert sum(b["weights"].sum() for b in batches) == DAY_LINES[23]


def test_download_resumes_a_partial_file(repo_root, tmp_path, server):
    url, root, _ = server
    mod = _script(repo_root)
    full = (root / "day_0.gz").read_bytes()
    dest = tmp_path / "day_0.gz"
    (tmp_path / "day_0.gz.part").write_bytes(full[:10])
    mod.download(f"{url}/day_0.gz", dest)
    assert dest.read_bytes() == full and RangeHandler.ranges == ["bytes=10-"]
    assert not (tmp_path / "day_0.gz.part").exists()


def test_validate_lists_missing_and_corrupt_shards_then_rerun_repairs(repo_root, tmp_path,
                                                                     server):
    url, _, texts = server
    mod = _script(repo_root)
    _run(mod, tmp_path, url)
    data = tmp_path / "data"
    (data / "day_1_01").unlink()
    with open(data / "day_0_00", "ab") as f:
        f.write(b"1\t2\n")
    (data / "day_0_07").write_text("stray\n")
    with pytest.raises(mod.SetupError) as err:
        _run(mod, tmp_path, url, step="validate", full=True)
    message = str(err.value)
    for expected in ("day_1_01: missing", "day_0_00:", "bytes", "day_0_07: unexpected"):
        assert expected in message
    (data / "day_0_00").unlink()
    (data / "day_0_07").unlink()
    _run(mod, tmp_path, url)  # re-prepares the broken days, keeps the others
    assert b"".join(p.read_bytes() for p in sorted(data.glob("day_1_*"))) == texts[1]
    assert b"".join(p.read_bytes() for p in sorted(data.glob("day_0_*"))) == texts[0]


def test_cli_exits_2_with_a_clear_error(repo_root, tmp_path):
    empty = tmp_path / "empty"
    proc = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "setup_criteo1tb.py"), "--data-dir",
         str(empty), "--tmp-dir", str(tmp_path / "dl"), "--days", "0-1", "--step", "validate",
         "--manifest", str(_manifest(tmp_path))],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "day_0_00: missing" in proc.stderr and "rerun the script" in proc.stderr
