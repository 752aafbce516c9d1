"""Framework-neutral checkpoint plumbing: one file per trial, written atomically.

A checkpoint is a single file (``checkpoint.pt`` / ``checkpoint.pkl``) in the
trial's ``checkpoint_dir``. It is written to a temporary name in the same
directory and renamed over the old one, so a preempted write never leaves a
torn file and only the newest checkpoint is kept.

``checkpoint_dir`` may also be a URI that ``pyarrow.fs.FileSystem.from_uri``
understands (``s3://bucket/prefix``, ``gs://...``, ``file:///...``), so a
multi-node cluster can keep checkpoints in object storage instead of a shared
filesystem. The file is then written locally with the same atomic code and
uploaded: to a temporary name moved over the old one where the filesystem can
rename, or as one PUT on object stores, where a reader already sees the old
or the new object and never a torn one. Restoring downloads it to a local
temporary file first, so the backends only ever see local paths.

Trees are saved as "what can be restored": arrays/tensors, numbers, and
objects with ``state_dict`` (torch optimizers, LR schedulers). Leaves that
cannot be saved (closures such as optax update functions) are recorded as
:data:`SKIPPED` and keep their freshly initialised value on restore.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

SKIPPED = "__algoperf_ray_skipped__"
BOOKKEEPING_VERSION = 1
# pyarrow filesystem type names where one PUT replaces an object atomically
# and a rename is a copy: upload straight to the final name there.
OBJECT_STORES = frozenset({"s3", "gcs", "abfs"})


class CheckpointMismatchError(RuntimeError):
    """A checkpoint that belongs to another trial or has another tree layout."""


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then rename it to ``path`` (same directory)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def is_uri(path: str) -> bool:
    return "://" in path


def join_path(base: str, *parts: str) -> str:
    """``os.path.join`` for local paths; a ``/`` join for URIs (keeps ``s3://``)."""
    if not is_uri(base):
        return os.path.join(base, *parts)
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def checkpoint_path(checkpoint_dir: str, name: str) -> str:
    return join_path(checkpoint_dir, name)


def _filesystem(uri: str) -> tuple[Any, str]:
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError for bad URIs
        raise ValueError(f"checkpoint_dir {uri!r} is neither a local path nor a URI "
                         f"pyarrow can open ({e}); use a path or e.g. s3://bucket/prefix"
                         ) from e


def upload(local: str, filesystem: Any, path: str) -> None:
    """Copy the local file ``local`` to ``path``, replacing it in one step."""
    directory, _, name = path.rpartition("/")
    if directory:
        filesystem.create_dir(directory, recursive=True)
    atomic_put = filesystem.type_name in OBJECT_STORES
    target = path if atomic_put else f"{directory}/.tmp-{uuid.uuid4().hex}-{name}"
    try:
        with open(local, "rb") as src, filesystem.open_output_stream(target) as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)
        if not atomic_put:
            filesystem.move(target, path)
    except BaseException:
        if not atomic_put:
            with contextlib.suppress(Exception):
                filesystem.delete_file(target)
        raise


def download(filesystem: Any, path: str, local: str) -> bool:
    """Copy ``path`` to the local file ``local``; False if there is none."""
    from pyarrow import fs

    if filesystem.get_file_info(path).type != fs.FileType.File:
        return False
    with filesystem.open_input_stream(path) as src, open(local, "wb") as dst:
        shutil.copyfileobj(src, dst, length=8 << 20)
    return True


def save(checkpoint_dir: str, name: str, write: Callable[[str], None]) -> None:
    """Write this trial's checkpoint with ``write(local_tmp_path)``, atomically."""
    if not is_uri(checkpoint_dir):
        atomic_write(checkpoint_path(checkpoint_dir, name), write)
        return
    filesystem, directory = _filesystem(checkpoint_dir)
    with tempfile.TemporaryDirectory(prefix="algoperf-ckpt-") as tmp:
        local = os.path.join(tmp, name)
        atomic_write(local, write)
        upload(local, filesystem, f"{directory.rstrip('/')}/{name}")


@contextlib.contextmanager
def local_checkpoint(checkpoint_dir: str | None, name: str) -> Iterator[str | None]:
    """A local path of this trial's checkpoint (downloaded if remote), or None."""
    if not checkpoint_dir or not is_uri(checkpoint_dir):
        yield existing_checkpoint(checkpoint_dir, name)
        return
    filesystem, directory = _filesystem(checkpoint_dir)
    with tempfile.TemporaryDirectory(prefix="algoperf-ckpt-") as tmp:
        local = os.path.join(tmp, name)
        found = download(filesystem, f"{directory.rstrip('/')}/{name}", local)
        yield local if found else None


def existing_checkpoint(checkpoint_dir: str | None, name: str) -> str | None:
    """The checkpoint file of this trial in a local ``checkpoint_dir``, if written."""
    if not checkpoint_dir:
        return None
    path = checkpoint_path(checkpoint_dir, name)
    return path if os.path.isfile(path) else None


def check_identity(saved: dict[str, Any], expected: dict[str, Any], path: str) -> None:
    """Refuse to resume from a checkpoint of a different trial."""
    got = saved.get("identity", {})
    diff = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    if diff:
        detail = ", ".join(f"{k}: checkpoint has {a!r}, this trial {b!r}"
                           for k, (a, b) in diff.items())
        raise CheckpointMismatchError(
            f"checkpoint {path} belongs to another trial ({detail}); use another "
            f"checkpoint_dir or delete it.")


def restore_leaves(fresh: list[Any], saved: list[Any], what: str, path: str,
                   place: Callable[[Any, Any], Any]) -> list[Any]:
    """Put saved leaves in place of fresh ones; ``place(fresh, saved)`` converts."""
    if len(fresh) != len(saved):
        raise CheckpointMismatchError(
            f"checkpoint {path}: {what} has {len(saved)} leaves, the fresh one "
            f"{len(fresh)}; the model or optimizer changed since it was written.")
    return [f if is_skipped(s) else place(f, s) for f, s in zip(fresh, saved, strict=True)]


def is_skipped(value: Any) -> bool:
    return isinstance(value, str) and value == SKIPPED
