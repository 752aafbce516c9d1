"""Framework-neutral checkpoint plumbing: one file per trial, written atomically.

A checkpoint is a single file (``checkpoint.pt`` / ``checkpoint.pkl``) in the
trial's ``checkpoint_dir``. It is written to a temporary name in the same
directory and renamed over the old one, so a preempted write never leaves a
torn file and only the newest checkpoint is kept.

Trees are saved as "what can be restored": arrays/tensors, numbers, and
objects with ``state_dict`` (torch optimizers, LR schedulers). Leaves that
cannot be saved (closures such as optax update functions) are recorded as
:data:`SKIPPED` and keep their freshly initialised value on restore.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

SKIPPED = "__algoperf_ray_skipped__"
BOOKKEEPING_VERSION = 1


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


def checkpoint_path(checkpoint_dir: str, name: str) -> str:
    return os.path.join(checkpoint_dir, name)


def existing_checkpoint(checkpoint_dir: str | None, name: str) -> str | None:
    """The checkpoint file of this trial, if one was written."""
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
