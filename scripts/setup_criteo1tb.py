"""Download and prepare Criteo 1TB click logs in the layout criteo1tb reads.

Three resumable steps, each skipped where its output already exists:

1. ``download``: ``day_<d>.gz`` (d = 0..23, ~350 GB in all) into ``--tmp-dir``.
   Partial downloads live in ``day_<d>.gz.part`` and continue with an HTTP
   ``Range`` request; a file is renamed into place only when its size equals
   the server's ``Content-Length``.
2. ``shard``: each day is decompressed as a stream and cut into
   ``--lines-per-shard`` (5,000,000) line files ``day_<d>_<NN>`` in
   ``--data-dir``, the reference layout (``split -a 2 -d -l 5000000``). A shard
   is written to ``.tmp`` and renamed when complete, so an interrupted run
   resumes at the first missing shard; a finished day records its shards'
   line counts and byte sizes in ``criteo1tb_manifest.json``.
3. ``validate``: the shard count and per-shard line counts of every day must
   match the known day sizes (the default manifest below; ``--manifest`` reads
   another as JSON), and byte sizes must match the recorded ones. Every
   mismatch is listed in one error, naming the file and how to repair it.

Examples::

    python scripts/setup_criteo1tb.py --data-dir ~/data/criteo1tb --tmp-dir /scratch/criteo
    python scripts/setup_criteo1tb.py --data-dir ~/data/criteo1tb --step validate --full
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import typer

# Lines per day of the Criteo 1TB click logs; days 0..22 sum to the
# 4,195,197,692 training examples of the benchmark, day 23 is split into
# test (shards 00..18) and validation (shards 19..35).
DAY_LINES = (
    195841983, 199563535, 196792019, 181115208, 152115810, 172548507, 204846845, 200801003,
    193772492, 198424372, 185778055, 153588700, 169003364, 194216520, 194081279, 187154596,
    177984934, 163382602, 142061091, 156534237, 193627464, 192215183, 189747893, 178274637,
)
LINES_PER_SHARD = 5_000_000
DEFAULT_BASE_URL = "https://huggingface.co/datasets/criteo/CriteoClickLogs/resolve/main"
MANIFEST_NAME = "criteo1tb_manifest.json"
_CHUNK = 1 << 20


class SetupError(RuntimeError):
    """A step failed; the message says which file and how to repair it."""


@dataclass(frozen=True)
class Manifest:
    """Expected dataset shape: lines per day and per shard."""

    day_lines: dict[int, int] = field(default_factory=lambda: dict(enumerate(DAY_LINES)))
    lines_per_shard: int = LINES_PER_SHARD

    def shard_lines(self, day: int) -> list[int]:
        """Expected line count of each shard of ``day``."""
        n, per = self.day_lines[day], self.lines_per_shard
        count = math.ceil(n / per)
        return [per] * (count - 1) + [n - per * (count - 1)]

    @classmethod
    def load(cls, path: str | None) -> Manifest:
        if path is None:
            return cls()
        try:
            raw = json.loads(Path(path).read_text())
            return cls({int(k): int(v) for k, v in raw["day_lines"].items()},
                       int(raw.get("lines_per_shard", LINES_PER_SHARD)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise SetupError(f"bad manifest {path}: {e!r}. Expected JSON like "
                             '{"day_lines": {"0": 195841983, ...}, "lines_per_shard": 5000000}.'
                             ) from e


def shard_name(day: int, index: int) -> str:
    return f"day_{day}_{index:02d}"


# ---- step 1: download ----------------------------------------------------------------
def download(url: str, dest: Path, timeout: float = 600.0) -> Path:
    """Fetch ``url`` to ``dest``, resuming ``dest.part``; no-op when ``dest`` exists."""
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except OSError as e:
        raise SetupError(f"cannot download {url}: {e}. Check --base-url or put the .gz "
                         f"files in --tmp-dir ({dest.parent}) yourself.") from e
    with response:
        resumed = response.status == 206
        length = int(response.headers.get("Content-Length", -1))
        total = have + length if resumed else length
        with open(part, "ab" if resumed else "wb") as f:
            shutil.copyfileobj(response, f, _CHUNK)
    size = part.stat().st_size
    if total >= 0 and size != total:
        raise SetupError(f"download of {url} stopped at {size} of {total} bytes; run the "
                         "script again to resume it.")
    part.rename(dest)
    return dest


# ---- step 2: shard -------------------------------------------------------------------
def _write_shard(lines: list[bytes], path: Path) -> dict[str, int]:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.writelines(lines)
    tmp.rename(path)
    return {"lines": len(lines), "bytes": path.stat().st_size}


def shard_day(gz_path: Path, data_dir: Path, day: int, lines_per_shard: int) -> dict:
    """Cut one gzipped day into shards; keeps shards that already exist."""
    record: dict[str, dict[str, int]] = {}
    index, buffer = 0, []
    with gzip.open(gz_path, "rb") as stream:
        for line in stream:
            buffer.append(line if line.endswith(b"\n") else line + b"\n")
            if len(buffer) == lines_per_shard:
                record[shard_name(day, index)] = _keep_or_write(buffer, data_dir, day, index)
                index, buffer = index + 1, []
    if buffer:
        record[shard_name(day, index)] = _keep_or_write(buffer, data_dir, day, index)
    return record


def _keep_or_write(lines: list[bytes], data_dir: Path, day: int, index: int) -> dict[str, int]:
    path = data_dir / shard_name(day, index)
    if path.exists():  # renamed into place only when complete
        return {"lines": len(lines), "bytes": path.stat().st_size}
    return _write_shard(lines, path)


def read_record(data_dir: Path) -> dict[str, dict]:
    path = data_dir / MANIFEST_NAME
    return json.loads(path.read_text()) if path.exists() else {}


def write_record(data_dir: Path, record: dict[str, dict]) -> None:
    tmp = data_dir / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    tmp.rename(data_dir / MANIFEST_NAME)


# ---- step 3: validate ----------------------------------------------------------------
def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(_CHUNK), b""))


def check_day(data_dir: Path, day: int, manifest: Manifest, record: dict,
              full: bool) -> list[str]:
    """Problems with one day's shards (empty when it is complete)."""
    expected = manifest.shard_lines(day)
    names = [shard_name(day, i) for i in range(len(expected))]
    problems = [f"{n}: missing" for n in names if not (data_dir / n).exists()]
    extra = sorted(p.name for p in data_dir.glob(f"day_{day}_*")
                   if p.name not in names and not p.name.endswith(".tmp"))
    problems += [f"{n}: unexpected file (day {day} has {len(names)} shards)" for n in extra]
    for name, lines in zip(names, expected, strict=True):
        path = data_dir / name
        if not path.exists():
            continue
        seen = record.get(str(day), {}).get(name)
        if seen is None:
            problems.append(f"{name}: not in {MANIFEST_NAME} (its day was never finished)")
        elif seen["lines"] != lines:
            problems.append(f"{name}: {seen['lines']} lines recorded, expected {lines}")
        elif path.stat().st_size != seen["bytes"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, recorded {seen['bytes']}")
        if full and (n := _count_lines(path)) != lines:
            problems.append(f"{name}: {n} lines on disk, expected {lines}")
    return problems


def validate(data_dir: Path, days: list[int], manifest: Manifest, full: bool = False) -> None:
    """Raise :class:`SetupError` listing every problem; silent when all is well."""
    record = read_record(data_dir)
    problems = [p for d in days for p in check_day(data_dir, d, manifest, record, full)]
    if problems:
        shown = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise SetupError(
            f"criteo1tb data in {data_dir} is incomplete or corrupt ({len(problems)} "
            f"problem(s)):\n  {shown}{more}\nDelete the listed corrupt or unexpected files "
            "(missing ones need nothing) and rerun the script with --step all to rebuild them.")


# ---- driver --------------------------------------------------------------------------
def prepare_day(day: int, data_dir: Path, tmp_dir: Path, base_url: str, manifest: Manifest,
                delete_downloads: bool) -> dict:
    """Download and shard one day; returns its shard record."""
    gz = download(f"{base_url.rstrip('/')}/day_{day}.gz", tmp_dir / f"day_{day}.gz")
    shards = shard_day(gz, data_dir, day, manifest.lines_per_shard)
    if delete_downloads:
        gz.unlink()
    return shards


def _prepare_days(days: list[int], workers: int, *args) -> Iterator[tuple[int, dict]]:
    """(day, shard record) as days finish; in this process when ``workers <= 1``."""
    if workers <= 1:
        for day in days:
            yield day, prepare_day(day, *args)
        return
    with ProcessPoolExecutor(workers) as pool:
        futures = {day: pool.submit(prepare_day, day, *args) for day in days}
        for day, future in futures.items():
            yield day, future.result()


def run(data_dir: Path, tmp_dir: Path, days: list[int], base_url: str, manifest: Manifest,
        step: str = "all", workers: int = 1, delete_downloads: bool = False,
        full: bool = False) -> None:
    """Run the steps for ``days``; days already recorded as finished are skipped."""
    unknown = [d for d in days if d not in manifest.day_lines]
    if unknown:
        raise SetupError(f"days {unknown} are not in the manifest (known: "
                         f"{sorted(manifest.day_lines)}).")
    if step in ("all", "prepare"):
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        record = read_record(data_dir)
        todo = [d for d in days if str(d) not in record
                or check_day(data_dir, d, manifest, record, full=False)]
        for day, shards in _prepare_days(todo, workers, data_dir, tmp_dir, base_url, manifest,
                                         delete_downloads):
            record[str(day)] = shards
            write_record(data_dir, record)  # after every day, so a rerun skips it
    if step in ("all", "validate"):
        validate(data_dir, days, manifest, full=full)


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        days += list(range(int(lo), int(hi or lo) + 1))
    return days


def main(
    data_dir: Path = typer.Option(..., help="Where the day_<d>_<NN> shards go."),
    tmp_dir: Path = typer.Option(Path("/tmp/criteo1tb"), help="Where the .gz downloads go."),
    days: str = typer.Option("0-23", help="Days to prepare, e.g. '0-23' or '0,5,23'."),
    base_url: str = typer.Option(DEFAULT_BASE_URL, help="URL folder holding day_<d>.gz."),
    step: str = typer.Option("all", help="all | prepare (download+shard) | validate."),
    workers: int = typer.Option(1, help="Days prepared in parallel (processes)."),
    delete_downloads: bool = typer.Option(False, help="Delete each .gz once it is sharded."),
    full: bool = typer.Option(False, help="validate: also count the lines of every shard."),
    manifest: str = typer.Option(None, help="JSON manifest overriding the known day sizes."),
) -> None:
    """Download, shard and validate Criteo 1TB for the criteo1tb workloads."""
    if step not in ("all", "prepare", "validate"):
        raise typer.BadParameter(f"--step must be all, prepare or validate, not {step!r}.")
    try:
        run(data_dir.expanduser(), tmp_dir.expanduser(), _parse_days(days), base_url,
            Manifest.load(manifest), step, workers, delete_downloads, full)
    except SetupError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"criteo1tb data ready in {data_dir}")


if __name__ == "__main__":
    typer.run(main)
