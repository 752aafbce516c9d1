"""Store transactions: a manifest names the live files; one rename publishes a change.

Why: a store is many files (one eval, trial and summary file per trial, or
one segment per ingested submission). Writing or replacing several of them
cannot be one filesystem operation, so a reader, or a process killed half
way, could otherwise see some new files next to some old ones (a partial
ingest that ``score`` would rank without a warning, or a trial's rows twice).

The protocol, all under the store's lock (``_lock``, an ``flock``: a killed
holder releases it; object stores use an optimistic generation check)::

    1. recover: finish or roll back what a killed writer left (its journal);
    2. journal ``_staging/g<N>.json``: the folders about to be written and the
       files about to be replaced;
    3. stage: write every new data file into fresh ``g<N>/`` folders, which no
       reader looks at (they are not in the manifest);
    4. publish: write ``_manifest.json`` (temp file, then rename): generation
       N, the map from each logical file to the generation holding it;
    5. remove the replaced files and the journal.

A kill before step 4 leaves the old store (step 1 of the next writer removes
the staged folders); a kill after it leaves the new store (the next writer
removes the replaced files). Readers read the manifest once and open only the
files it names, so they see the old store or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pyarrow.fs as pafs

from algoperf_ray.store.errors import StoreError

MANIFEST = "_manifest.json"
LOCK = "_lock"
STAGING = "_staging"
FORMAT = "algoperf-ray store"
DATA_TABLES = ("evals", "trials")

_CRASH_ENV = "ALGOPERF_RAY_STORE_CRASH_AT"
_crash_count = 0
_memory_locks: dict[str, threading.Lock] = {}
_memory_guard = threading.Lock()


def crash_point(label: str) -> None:
    """Test hook: SIGKILL this process at the N-th step when ``$ALGOPERF_RAY_STORE_CRASH_AT=N``.

    The kill test uses it to stop a real ingest after every single file
    operation of a commit; without the variable it costs one dict lookup.
    """
    global _crash_count
    target = os.environ.get(_CRASH_ENV)
    if not target:
        return
    _crash_count += 1
    if _crash_count == int(target):
        os.kill(os.getpid(), signal.SIGKILL)


def crash_steps() -> int:
    """How many crash points this process passed (the kill test sizes its loop with it)."""
    return _crash_count


@dataclass
class Manifest:
    """The live files: logical path (``evals/<partition>/<name>``) -> generation folder.

    Generation 0 is a file at its logical path (stores written before
    manifests existed, read in place); generation N lives in ``g<N>/``.
    """

    generation: int = 0
    schema_version: int = 0
    files: dict[str, int] = field(default_factory=dict)

    def physical(self, logical: str) -> str:
        return physical_path(logical, self.files[logical])

    def live(self, table: str, prefix: str = "") -> list[str]:
        """Logical paths of ``table`` (under ``prefix``, a partition path), sorted."""
        start = f"{table}/{prefix}"
        return sorted(p for p in self.files if p.startswith(start))

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "schema_version": self.schema_version,
                           "generation": self.generation,
                           "files": dict(sorted(self.files.items()))}, indent=0)


def physical_path(logical: str, generation: int) -> str:
    if generation == 0:
        return logical
    directory, _, name = logical.rpartition("/")
    return f"{directory}/g{generation}/{name}"


def parse_manifest(text: bytes, where: str) -> Manifest:
    """The manifest at ``where``; a damaged one is an error naming it and the fix."""
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        files = {str(k): int(v) for k, v in data["files"].items()}
        return Manifest(int(data["generation"]), int(data["schema_version"]), files)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise StoreError(
            f"{where}: damaged store manifest ({e}). It names the store's live files; "
            f"restore it from a backup, or delete it and re-ingest the logs / re-run the "
            f"trials into a new store") from None


@contextlib.contextmanager
def store_lock(fs: pafs.FileSystem, root: str, uri: str) -> Iterator[bool]:
    """Exclusive writer lock; yields True where it is a real lock (else: optimistic).

    Local paths: ``flock`` on ``<root>/_lock`` (released by the kernel if the
    holder dies, so a killed writer never blocks the next one). ``memory://``:
    a process-wide lock per URI. Other filesystems (object stores) have no
    lock; :func:`commit` then re-checks the generation before publishing.
    """
    if isinstance(fs, pafs.LocalFileSystem):
        import fcntl

        os.makedirs(root, exist_ok=True)
        fd = os.open(os.path.join(root, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield True
        finally:
            os.close(fd)  # closing releases the flock
    elif uri.startswith("memory://"):
        with _memory_guard:
            lock = _memory_locks.setdefault(uri, threading.Lock())
        with lock:
            yield True
    else:
        yield False


def write_json(fs: pafs.FileSystem, path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename; object stores: one PUT)."""
    data = text.encode()
    if isinstance(fs, pafs.LocalFileSystem):  # plain os calls: a third of pyarrow's cost
        tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
        tmp = tmp.rpartition("/")[0] + "/." + tmp.rpartition("/")[2]
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return
    if "Mock" not in type(fs).__name__:
        with fs.open_output_stream(path) as out:
            out.write(data)
        return
    directory, _, name = path.rpartition("/")
    tmp = f"{directory}/.{name}.tmp-{os.getpid()}-{threading.get_ident()}"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, path)


def read_bytes(fs: pafs.FileSystem, path: str) -> bytes | None:
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def journal_text(generation: int, new_dirs: list[str], removes: list[str],
                 summary_dirs: list[str]) -> str:
    return json.dumps({"generation": generation, "new_dirs": sorted(new_dirs),
                       "removes": sorted(removes), "summary_dirs": sorted(summary_dirs)})


def recover(fs: pafs.FileSystem, root: str, manifest: Manifest) -> int:
    """Finish or roll back every writer that died; returns how many journals it handled.

    A journal newer than the manifest was never published: its staged
    folders go. One not newer was published: the files it replaced that the
    manifest no longer names go. Temp files in the folders it touched go too.
    """
    selector = pafs.FileSelector(f"{root}/{STAGING}", allow_not_found=True)
    infos = [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]
    live = {manifest.physical(p) for p in manifest.files}
    handled = 0
    for info in sorted(infos, key=lambda i: i.path):
        if info.base_name.startswith("."):  # a journal's own temp file
            delete_quietly(fs, info.path)
            continue
        raw = read_bytes(fs, info.path)
        try:
            journal = json.loads(raw or b"{}")
            generation = int(journal["generation"])
        except (ValueError, KeyError, TypeError):
            delete_quietly(fs, info.path)
            continue
        if generation > manifest.generation:
            for d in journal["new_dirs"]:
                delete_dir_quietly(fs, f"{root}/{d}")
        else:
            for rel in journal["removes"]:
                if rel not in live:
                    delete_quietly(fs, f"{root}/{rel}")
                    remove_empty_dir(fs, f"{root}/{rel.rpartition('/')[0]}")
        for d in journal.get("summary_dirs", []):
            remove_temp_files(fs, f"{root}/{d}")
        delete_quietly(fs, info.path)
        handled += 1
    if handled:
        remove_temp_files(fs, root)
    return handled


def remove_temp_files(fs: pafs.FileSystem, directory: str) -> None:
    selector = pafs.FileSelector(directory, allow_not_found=True)
    for info in fs.get_file_info(selector):
        if info.type == pafs.FileType.File and ".tmp-" in info.base_name:
            delete_quietly(fs, info.path)


def remove_empty_dir(fs: pafs.FileSystem, directory: str) -> None:
    """Drop a ``g<N>`` folder once its last file is gone (never a partition folder)."""
    name = directory.rpartition("/")[2]
    if not (name.startswith("g") and name[1:].isdigit()):
        return
    try:
        if isinstance(fs, pafs.LocalFileSystem):
            os.rmdir(directory)  # fails, as wanted, while the folder holds a file
        elif not fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True)):
            fs.delete_dir(directory)
    except OSError:
        pass


def delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        if isinstance(fs, pafs.LocalFileSystem):
            os.unlink(path)
        else:
            fs.delete_file(path)
    except (FileNotFoundError, OSError):
        pass


def delete_dir_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_dir(path)
    except (FileNotFoundError, OSError):
        pass


def merged(manifest: Manifest, generation: int, schema_version: int, puts: Mapping[str, object],
           deletes: set[str]) -> Manifest:
    """The manifest after a commit: ``deletes`` gone, ``puts`` in generation ``generation``."""
    files = {p: g for p, g in manifest.files.items() if p not in deletes}
    files.update({p: generation for p in puts})
    return Manifest(generation, schema_version, files)
