"""Legacy ``jax.pmap`` submissions (the v0.5/v0.6 era): detect them, pick the mode.

Before the reference moved to ``jit`` with sharded global arrays, JAX
submissions drove a ``jax.pmap`` train step themselves: params and optimizer
state carried a leading device axis (``flax.jax_utils.replicate``), batches
came as ``[local_devices, per_device_batch, ...]`` and gradients were
averaged with ``lax.pmean``/``psum`` over ``axis_name='batch'``. Run against
jit-style workloads they crash deep inside (a ``squeeze`` of a non-device
axis), so this module reads the submission's source *before* training and
decides, once, whether the workload must take the old layout
(:mod:`algoperf_ray.workload.placement_pmap_jax`).

The switch, in order of precedence: the ``legacy_pmap`` workload option
(``TrialConfig.workload_kwargs``), then the ``ALGOPERF_RAY_LEGACY_PMAP``
environment variable; each is ``auto`` (default: legacy mode when the
source shows the pmap style), ``on`` or ``off``. This module is framework
neutral (source analysis only); JAX is imported only when the mode is on.
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
from pathlib import Path
from typing import Any

from algoperf_ray.spec import SubmissionError

log = logging.getLogger(__name__)

ENV_VAR = "ALGOPERF_RAY_LEGACY_PMAP"
OPTION = "legacy_pmap"  # the workload option name (TrialConfig.workload_kwargs)
MODES = ("auto", "on", "off")
_TRUE = {"1", "on", "true", "yes"}
_FALSE = {"0", "off", "false", "no"}
_REPLICATE = {"replicate", "device_put_replicated"}
_COLLECTIVES = {"pmean", "psum"}


def _call_name(node: ast.Call) -> str:
    """``jax.pmap`` -> ``pmap``; ``functools.partial(jax.pmap, ...)`` -> ``pmap``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name == "partial" and node.args:
        first = node.args[0]
        return first.attr if isinstance(first, ast.Attribute) else getattr(first, "id", "")
    return name


def _findings_in(tree: ast.AST, label: str) -> list[str]:
    found: list[tuple[int, str]] = []
    seen: set[int] = set()  # ids of jax.pmap attributes already reported with their call
    for node in ast.walk(tree):  # breadth first: a call is met before its arguments
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "pmap":
                seen.update(id(n) for n in ast.walk(node) if isinstance(n, ast.Attribute))
                found.append((node.lineno, "calls jax.pmap"))
            elif name in _REPLICATE:
                found.append((node.lineno, f"replicates a pytree over devices ({name})"))
            elif name in _COLLECTIVES and any(k.arg == "axis_name" for k in node.keywords):
                found.append((node.lineno, f"averages over a pmap axis ({name})"))
        elif isinstance(node, ast.Attribute) and node.attr == "pmap" and id(node) not in seen:
            found.append((node.lineno, "uses jax.pmap"))
    return [f"{label}:{line} {what}" for line, what in sorted(found)]


def detect(path: str | Path) -> list[str]:
    """Where the file at ``path`` shows the pmap style (empty if it does not).

    The decisive sign is ``jax.pmap`` itself (called, decorated, or passed
    to ``functools.partial``); replication and ``pmean(axis_name=...)`` are
    reported with it but never count alone, so a jit-style submission that
    merely imports ``flax.jax_utils`` is not flagged.
    """
    path = Path(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []  # the loader reports unreadable files itself
    found = _findings_in(tree, path.name)
    return found if any(f.endswith("jax.pmap") for f in found) else []


def detect_submission(path: str | Path, module: Any = None) -> list[str]:
    """:func:`detect` over the submission file and the files its API functions come from.

    Old target-setting submissions import ``update_params`` from a shared
    base module, which is where their pmap lives.
    """
    files = [Path(path).resolve()]
    for name in ("init_optimizer_state", "update_params", "prepare_for_eval", "data_selection"):
        try:
            source = inspect.getsourcefile(getattr(module, name, None))
        except TypeError:  # absent, or not a Python function
            continue
        if source and source.endswith(".py") and Path(source).resolve() not in files:
            files.append(Path(source).resolve())
    return [finding for file in files for finding in detect(file)]


def resolve_mode(option: Any = None) -> str:
    """The mode from the workload option, else the environment, else ``auto``."""
    source, raw = (OPTION, option) if option is not None else (ENV_VAR, os.environ.get(ENV_VAR))
    if raw is None or str(raw).strip() == "":
        return "auto"
    value = str(raw).strip().lower()
    if value in _TRUE:
        return "on"
    if value in _FALSE:
        return "off"
    if value == "auto":
        return "auto"
    raise ValueError(f"{source}={raw!r} is not a legacy pmap mode; use one of {MODES} "
                     "(or 1/0).")


def not_supported_message(path: str, findings: list[str]) -> str:
    return (f"submission {path} is written in the legacy jax.pmap style "
            f"({'; '.join(findings[:3])}), which needs params replicated with a leading "
            "device axis and batches shaped [devices, per_device_batch, ...]. Legacy pmap "
            f"mode is turned off ({OPTION}/{ENV_VAR} = off). Turn it on with "
            f"{ENV_VAR}=1 (or auto), or the workload option {OPTION}='on'.")


def wants_legacy(submission: Any, framework: str, option: Any = None) -> bool:
    """Whether this trial runs in legacy pmap mode; raises a clear error where it cannot.

    ``submission`` is a :class:`~algoperf_ray.submission.loader.LoadedSubmission`
    (its ``pmap_style`` findings were taken when it was loaded).
    """
    mode = resolve_mode(option)
    findings = list(getattr(submission, "pmap_style", ()) or ())
    path = getattr(submission, "path", "<submission>")
    if mode == "on" and framework != "jax":
        raise SubmissionError(f"legacy pmap mode ({OPTION}/{ENV_VAR} = on) is for JAX "
                              f"submissions; {path} runs with framework {framework!r}. "
                              "Turn it off for this trial.")
    if framework != "jax":
        return False
    if mode == "off":
        if findings:
            raise SubmissionError(not_supported_message(path, findings))
        return False
    if mode == "auto" and findings:
        log.warning("legacy pmap mode on for %s (%s): params and batches take a leading "
                    "device axis; set %s=off to refuse such submissions instead.",
                    path, "; ".join(findings[:3]), ENV_VAR)
    return mode == "on" or bool(findings)


def configure(workload: Any, submission: Any, framework: str, option: Any = None) -> Any:
    """``workload``, switched to legacy pmap mode if this trial needs it (else as is)."""
    if not wants_legacy(submission, framework, option):
        return workload
    from algoperf_ray.workload.placement_pmap_jax import enable_legacy_pmap

    return enable_legacy_pmap(workload)
