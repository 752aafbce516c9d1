"""Load a submission file into a :class:`LoadedSubmission`.

A submission is a Python file defining the AlgoPerf functions (see
:mod:`algoperf_ray.spec`). Public submissions import ``algoperf.*`` or the
legacy ``algorithmic_efficiency.*``; :func:`load_submission` installs the
compat aliases first (:mod:`algoperf_ray.compat`), so they run unchanged.

Every way a submission can be unusable (wrong path, an import error inside
it, a missing function, a function that cannot take the harness's keyword
arguments) raises one :class:`~algoperf_ray.spec.SubmissionError` that names
the file and says how to fix it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from algoperf_ray import compat, spec
from algoperf_ray.compat import legacy_pmap
from algoperf_ray.spec import SubmissionError

FRAMEWORK_DIRS = ("jax", "pytorch")
SEARCH_SPACE_FILE = "tuning_search_space.json"

# The arguments the harness passes, in order. As in the reference runner,
# update_params and prepare_for_eval are called by keyword, the others by position.
_CALL_ARGS: dict[str, tuple[str, ...]] = {
    "get_batch_size": ("workload_name",),
    "init_optimizer_state": ("workload", "model_params", "model_state", "hyperparameters", "rng"),
    "update_params": ("workload", "current_param_container", "current_params_types",
                      "model_state", "hyperparameters", "batch", "loss_type", "optimizer_state",
                      "eval_results", "global_step", "rng"),
    "prepare_for_eval": ("workload", "current_param_container", "current_params_types",
                         "model_state", "hyperparameters", "loss_type", "optimizer_state",
                         "eval_results", "global_step", "rng"),
    "data_selection": ("workload", "input_queue", "optimizer_state", "current_param_container",
                       "model_state", "hyperparameters", "global_step", "rng"),
}
_KEYWORD_CALLED = frozenset({"update_params", "prepare_for_eval"})


def _noop_prepare_for_eval(workload: spec.Workload, current_param_container: Any,
                           current_params_types: Any, model_state: Any, hyperparameters: Any,
                           loss_type: spec.LossType, optimizer_state: Any, eval_results: Any,
                           global_step: int, rng: Any, train_state: Any = None) -> spec.UpdateReturn:
    """Default for submissions without ``prepare_for_eval``: change nothing."""
    return optimizer_state, current_param_container, model_state


@dataclass(frozen=True)
class LoadedSubmission:
    """The submission's functions plus what the runner must know to call them."""

    path: str
    name: str
    get_batch_size: Callable[..., int]
    init_optimizer_state: Callable[..., Any]
    update_params: Callable[..., spec.UpdateReturn]
    prepare_for_eval: Callable[..., spec.UpdateReturn]
    data_selection: Callable[..., Any]
    update_accepts_train_state: bool
    prepare_accepts_train_state: bool
    has_prepare_for_eval: bool = True
    module: ModuleType | None = None
    # Where the source shows the legacy jax.pmap style (algoperf_ray.compat.legacy_pmap).
    pmap_style: tuple[str, ...] = ()

    @property
    def search_space_path(self) -> str | None:
        found = find_search_space(self.path)
        return str(found) if found else None


def submission_name(path: str | Path) -> str:
    """``submissions/nadamw/jax/submission.py`` -> ``nadamw``; ``foo.py`` -> ``foo``."""
    p = Path(path)
    if p.stem != "submission":
        return p.stem
    parent = p.parent
    if parent.name in FRAMEWORK_DIRS and parent.parent.name:
        return parent.parent.name
    return parent.name or p.stem


def resolve_submission_path(path: str | Path, framework: str | None = None) -> Path:
    """A submission file from a file path or a folder.

    Folders may hold ``submission.py`` directly or ``<framework>/submission.py``
    (the reference's layout); the latter needs ``framework``.
    """
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix != ".py":
            raise SubmissionError(f"submission {p} is not a Python file; pass a submission.py.")
        return p.resolve()
    if p.is_dir():
        candidates = ([p / framework / "submission.py"] if framework else []) + [p / "submission.py"]
        for c in candidates:
            if c.is_file():
                return c.resolve()
        have = [d for d in FRAMEWORK_DIRS if (p / d / "submission.py").is_file()]
        hint = (f"it has {', '.join(d + '/submission.py' for d in have)}; pass --framework "
                f"({'/'.join(have)}) or the file itself" if have else
                "it contains no submission.py")
        raise SubmissionError(f"submission folder {p}: no submission file for framework "
                              f"{framework!r}; {hint}.")
    raise SubmissionError(f"submission not found: {p} (pass the path of a submission.py, "
                          f"or of a folder containing one).")


def find_search_space(submission_path: str | Path) -> Path | None:
    """The ``tuning_search_space.json`` next to the submission or one folder up."""
    p = Path(submission_path)
    start = p if p.is_dir() else p.parent
    for folder in (start, start.parent):
        candidate = folder / SEARCH_SPACE_FILE
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    """A stable, unique module name so pickled objects re-import by name."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in submission_name(path))
    return f"_algoperf_submission_{stem}_{digest}"


def _import_error_message(path: Path, err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = next((f"line {f.lineno}" for f in reversed(frames) if f.filename == str(path)), "")
    msg = f"submission {path} failed to import{' at ' + where if where else ''}: " \
          f"{type(err).__name__}: {err}."
    missing = getattr(err, "name", None) if isinstance(err, ModuleNotFoundError) else None
    if missing and missing.partition(".")[0] in compat.ROOTS:
        msg += (f" algoperf-ray provides only these modules of the public package: "
                f"{', '.join(compat.provided_modules())}. Install the reference package "
                f"(pip install -e <algorithmic-efficiency checkout>) if the submission needs "
                f"another one.")
    elif missing:
        msg += (f" Module {missing!r} was not found. Likely causes: (1) a package that is not "
                f"installed (pip install the one that provides {missing!r}); (2) a module of "
                f"your repository that is not on sys.path: run from your repository's root "
                f"(the working directory {os.getcwd()} is searched, as the reference's runner "
                f"does) or add its folder to PYTHONPATH; (3) a module that only the reference "
                f"package provides (algoperf-ray aliases: "
                f"{', '.join(compat.provided_modules())}).")
    return msg


def _package_module(path: Path) -> tuple[Path, str] | None:
    """(folder above the package, dotted module name) for a file inside a package.

    The reference's runner imports a submission as a module of its package, so
    relative imports (``from .utils import x``) work; a file in a folder with
    no ``__init__.py`` has no package and is loaded by path.
    """
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return (folder, ".".join(parts)) if len(parts) > 1 else None


def _append_path(folder: str) -> None:
    """Searched last, so it never shadows an installed package (``jax/`` folders)."""
    if folder not in sys.path:
        sys.path.append(folder)


def _import_file(path: Path) -> ModuleType:
    """Import the submission as the reference's runner does.

    The working directory joins ``sys.path`` (the reference runs from its
    repository's root, so ``from submissions.x import y`` resolves there), and
    a file inside a package is imported by its dotted name.
    """
    compat.install()
    _append_path(os.getcwd())
    package = _package_module(path)
    if package is not None:
        root, dotted = package
        _append_path(str(root))
        try:
            return importlib.import_module(dotted)
        except BaseException as err:  # noqa: BLE001 - any failure becomes one clear error
            if isinstance(err, KeyboardInterrupt | SystemExit):
                raise
            raise SubmissionError(_import_error_message(path, err)) from err
    return _import_by_path(path)


def _import_by_path(path: Path) -> ModuleType:
    name = _module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    folder = str(path.parent)
    added = folder not in sys.path
    if added:  # helper modules next to the submission win while it imports
        sys.path.insert(0, folder)
    try:
        module_spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - any failure becomes one clear error
        sys.modules.pop(name, None)
        if isinstance(err, KeyboardInterrupt | SystemExit):
            raise
        raise SubmissionError(_import_error_message(path, err)) from err
    finally:
        if added and folder in sys.path:
            # Keep it reachable for imports done later inside functions, but last,
            # so it never shadows other modules.
            sys.path.remove(folder)
            sys.path.append(folder)
    return module


def batch_size_names(workload_name: str) -> list[str]:
    """The names ``get_batch_size`` is asked for, in order.

    As the reference's runner: the workload's own name, then (on
    ``ValueError``) its base workload's. Then, for our dev workloads, the
    benchmark workload that stands in for them (``digits`` -> ``mnist``),
    since public submissions know only the benchmark's names.
    """
    from algoperf_ray.benchmark.registry import UnknownWorkloadError, get_meta

    names = [workload_name]
    try:
        meta = get_meta(workload_name)
    except UnknownWorkloadError:
        return names
    for other in (meta.base, meta.batch_size_stand_in):
        if other and other not in names:
            names.append(other)
    return names


class BatchSizeError(SubmissionError, ValueError):
    """``get_batch_size`` knows none of the names tried (a ``ValueError``, as the reference's)."""


def _batch_size_with_fallback(path: Path, fn: Callable[[str], int]) -> Callable[[str], int]:
    def get_batch_size(workload_name: str) -> int:
        errors = []
        for name in batch_size_names(workload_name):
            try:
                return fn(name)
            except (ValueError, KeyError) as e:
                errors.append(f"{name!r}: {type(e).__name__}: {e}")
        raise BatchSizeError(
            f"submission {path}: get_batch_size knows none of the names tried for workload "
            f"{workload_name!r} ({'; '.join(errors)}). Add the workload (or its base "
            f"workload) to get_batch_size.")

    get_batch_size.__wrapped__ = fn  # type: ignore[attr-defined]
    return get_batch_size


def _check_functions(path: Path, module: ModuleType) -> None:
    missing = [f for f in spec.REQUIRED_SUBMISSION_FUNCTIONS if not hasattr(module, f)]
    if missing:
        raise SubmissionError(
            f"submission {path} does not define {', '.join(missing)}; a submission must define "
            f"{', '.join(spec.REQUIRED_SUBMISSION_FUNCTIONS)} (and optionally prepare_for_eval).")
    for fname, args in _CALL_ARGS.items():
        fn = getattr(module, fname, None)
        if fn is None:
            continue
        if not callable(fn):
            raise SubmissionError(f"submission {path}: {fname} is a {type(fn).__name__}, "
                                  f"not a function.")
        try:
            if fname in _KEYWORD_CALLED:
                inspect.signature(fn).bind(**{a: None for a in args})
            else:
                inspect.signature(fn).bind(*[None] * len(args))
        except TypeError as e:
            raise SubmissionError(
                f"submission {path}: {fname} cannot be called as {fname}({', '.join(args)}) "
                f"({e}); use the argument names of the AlgoPerf API.") from None
        except ValueError:
            pass  # builtins without a signature: accept


def _accepts_train_state(fn: Callable[..., Any]) -> bool:
    try:
        return "train_state" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def load_submission(path: str | Path, framework: str | None = None) -> LoadedSubmission:
    """Import a submission file (or folder, see :func:`resolve_submission_path`)."""
    file = resolve_submission_path(path, framework)
    module = _import_file(file)
    _check_functions(file, module)
    prepare = getattr(module, "prepare_for_eval", None)
    return LoadedSubmission(
        path=str(file), name=submission_name(file),
        get_batch_size=_batch_size_with_fallback(file, module.get_batch_size),
        init_optimizer_state=module.init_optimizer_state,
        update_params=module.update_params,
        prepare_for_eval=prepare or _noop_prepare_for_eval,
        data_selection=module.data_selection,
        update_accepts_train_state=_accepts_train_state(module.update_params),
        prepare_accepts_train_state=_accepts_train_state(prepare) if prepare else False,
        has_prepare_for_eval=prepare is not None,
        module=module, pmap_style=tuple(legacy_pmap.detect_submission(file, module)))
