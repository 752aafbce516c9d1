"""Tuning search spaces: load, validate, draw hyperparameter points.

A submission's ``tuning_search_space.json`` is either

* a dict ``{name: {"min", "max", "scaling": "linear"|"log"}}`` or
  ``{name: {"feasible_points": [...]}}``, sampled by scrambled Halton
  quasi-random search (:class:`scipy.stats.qmc.Halton`), or
* a list of fixed hyperparameter dicts, sampled without replacement.

Validation happens at load time so that ``run`` and ``tune`` reject a
malformed space, naming the file and the field, before any trial starts.
Draws depend only on the seed and on the space (not on key order in the
file), so a recorded seed reproduces a plan.
"""

from __future__ import annotations

import collections
import json
import keyword
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALINGS = ("linear", "log")
_RANGE_KEYS = {"min", "max", "scaling"}
_POINTS_KEY = "feasible_points"


class SearchSpaceError(ValueError):
    """A malformed search space or hyperparameter file; names file and field."""


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space.

    ``params`` holds the dict form (name -> spec) or None; ``points`` holds
    the list form (fixed points) or None. Exactly one is set.
    """

    path: str
    params: dict[str, dict[str, Any]] | None = None
    points: tuple[dict[str, Any], ...] | None = None

    @property
    def kind(self) -> str:
        return "points" if self.points is not None else "halton"

    @property
    def names(self) -> tuple[str, ...]:
        if self.points is not None:
            return tuple(self.points[0])
        return tuple(self.params or ())

    def draw(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` hyperparameter dicts, deterministic in ``seed``.

        Dict spaces: the first ``n`` points of a scrambled Halton sequence,
        one dimension per hyperparameter (in sorted name order). Fixed-point
        lists: ``n`` points sampled without replacement. Either way the draw is
        prefix-stable: point ``k`` does not depend on ``n``, so ``--trial k``
        names the same point whatever the number of trials.
        """
        if n < 0:
            raise ValueError(f"cannot draw {n} points from {self.path}")
        if self.points is not None:
            return self._sample_points(n, np.random.default_rng(seed))
        return self._halton(n, seed)

    def _sample_points(self, n: int, gen: np.random.Generator) -> list[dict[str, Any]]:
        if n > len(self.points):
            raise SearchSpaceError(
                f"{self.path}: the search space lists {len(self.points)} fixed points, so "
                f"{n} trials cannot be drawn without replacement; lower the number of trials "
                f"to at most {len(self.points)} or add points.")
        # A seeded permutation, truncated: draw(k + 1)[k] == draw(m)[k] for every m > k.
        order = gen.permutation(len(self.points))[:n]
        return [dict(self.points[i]) for i in order]

    def _halton(self, n: int, seed: int) -> list[dict[str, Any]]:
        from scipy.stats import qmc

        names = sorted(self.params)
        if n == 0:
            return []
        if not names:
            return [{} for _ in range(n)]
        unit = qmc.Halton(d=len(names), scramble=True, seed=seed).random(n)
        return [{name: _scale(self.params[name], float(u[j])) for j, name in enumerate(names)}
                for u in unit]


def _scale(spec: dict[str, Any], u: float) -> Any:
    """Map a unit-interval coordinate onto one hyperparameter's range."""
    if _POINTS_KEY in spec:
        points = spec[_POINTS_KEY]
        return points[min(int(math.floor(u * len(points))), len(points) - 1)]
    lo, hi = float(spec["min"]), float(spec["max"])
    if spec["scaling"] == "log":
        return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    return float(lo + u * (hi - lo))


# ---------------------------------------------------------------------------
# Loading and validation.
# ---------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise SearchSpaceError(f"{what} not found: {path} (pass the path of a JSON file).")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SearchSpaceError(
            f"{path}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}.") from None


def _check_name(where: str, name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) \
            or name.startswith("_"):
        raise SearchSpaceError(
            f"{where}: hyperparameter name {name!r} must be a Python identifier not starting "
            f"with '_' (submissions read it as hyperparameters.<name>).")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _validate_param(where: str, spec: Any) -> dict[str, Any]:
    """Check one dict-form entry; return it unchanged when valid."""
    if not isinstance(spec, dict):
        raise SearchSpaceError(
            f"{where}: must be an object like {{\"min\": 1e-4, \"max\": 1e-2, \"scaling\": "
            f"\"log\"}} or {{\"feasible_points\": [...]}}, got {type(spec).__name__} {spec!r}.")
    if _POINTS_KEY in spec:
        extra = set(spec) - {_POINTS_KEY}
        if extra:
            raise SearchSpaceError(f"{where}: 'feasible_points' cannot be combined with "
                                   f"{sorted(extra)}; use either feasible_points or min/max/scaling.")
        points = spec[_POINTS_KEY]
        if not isinstance(points, list) or not points:
            raise SearchSpaceError(f"{where}.feasible_points: must be a non-empty list, got {points!r}.")
        return spec
    unknown = set(spec) - _RANGE_KEYS
    if unknown:
        raise SearchSpaceError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: "
                               f"min, max, scaling, or feasible_points.")
    for key in ("min", "max", "scaling"):
        if key not in spec:
            raise SearchSpaceError(f"{where}: missing field '{key}' (a range needs min, max and "
                                   f"scaling; a discrete choice needs feasible_points).")
    for key in ("min", "max"):
        if not _is_number(spec[key]):
            raise SearchSpaceError(f"{where}.{key}: must be a finite number, got {spec[key]!r}.")
    if spec["scaling"] not in SCALINGS:
        raise SearchSpaceError(f"{where}.scaling: unknown scaling {spec['scaling']!r}; "
                               f"choose one of: {', '.join(SCALINGS)}.")
    if spec["min"] > spec["max"]:
        raise SearchSpaceError(f"{where}: min ({spec['min']}) is greater than max ({spec['max']}).")
    if spec["scaling"] == "log" and spec["min"] <= 0:
        raise SearchSpaceError(f"{where}.min: log scaling needs min > 0, got {spec['min']}.")
    return spec


def _validate_points(path: Path, data: list) -> tuple[dict[str, Any], ...]:
    if not data:
        raise SearchSpaceError(f"{path}: the list of hyperparameter points is empty.")
    first_keys: list[str] | None = None
    for i, point in enumerate(data):
        where = f"{path}: point [{i}]"
        if not isinstance(point, dict):
            raise SearchSpaceError(f"{where} must be an object of hyperparameter values, "
                                   f"got {type(point).__name__} {point!r}.")
        for name in point:
            _check_name(where, name)
        if first_keys is None:
            first_keys = sorted(point)
        elif sorted(point) != first_keys:
            raise SearchSpaceError(f"{where} has hyperparameters {sorted(point)} but point [0] has "
                                   f"{first_keys}; every point must name the same hyperparameters.")
    return tuple(dict(p) for p in data)


def search_space_from_data(data: Any, path: str = "<search space>") -> SearchSpace:
    """Validate already-parsed JSON (``path`` is only used in messages)."""
    p = Path(path)
    if isinstance(data, list):
        return SearchSpace(path=str(path), points=_validate_points(p, data))
    if not isinstance(data, dict):
        raise SearchSpaceError(f"{path}: a search space must be a JSON object (name -> range or "
                               f"feasible_points) or a list of points, got {type(data).__name__}.")
    params = {}
    for name, spec in data.items():
        _check_name(f"{path}: field {name!r}", name)
        params[name] = _validate_param(f"{path}: field {name!r}", spec)
    return SearchSpace(path=str(path), params=params)


def load_search_space(path: str | Path) -> SearchSpace:
    """Read and validate a ``tuning_search_space.json``; errors name file and field."""
    path = Path(path)
    return search_space_from_data(_read_json(path, "search space file"), str(path))


def split_into_studies(space: SearchSpace, studies: int, trials: int,
                       seed: int) -> list[list[dict[str, Any]]]:
    """Hyperparameters for ``studies`` x ``trials``, as the rules prescribe.

    Dict spaces: ``studies * trials`` Halton points drawn once and dealt out
    in consecutive blocks. Fixed-point lists: each study samples ``trials``
    points without replacement, from its own seed derived from (seed, study).
    """
    if studies < 1 or trials < 1:
        raise ValueError(f"studies and trials must be >= 1, got {studies} and {trials}.")
    if space.points is not None:
        out = []
        for s in range(studies):
            gen = np.random.default_rng(np.random.SeedSequence([int(seed), s]))
            out.append(space._sample_points(trials, gen))
        return out
    flat = space.draw(studies * trials, seed)
    return [flat[s * trials:(s + 1) * trials] for s in range(studies)]


# ---------------------------------------------------------------------------
# Hyperparameter objects handed to submissions.
# ---------------------------------------------------------------------------


def _rebuild(d: dict[str, Any]) -> Any:
    return make_hparams(d)


def make_hparams(d: dict[str, Any] | None) -> Any:
    """A namedtuple named ``Hyperparameters`` (attribute access, ``_asdict``), or None.

    Public submissions read ``hyperparameters.learning_rate`` and test
    ``hasattr(hyperparameters, 'label_smoothing')``, as with the reference's
    namedtuples. The object pickles by value (the class is made per call).
    """
    if d is None:
        return None
    if not isinstance(d, dict):
        raise TypeError(f"hyperparameters must be a dict or None, got {type(d).__name__}")
    for name in d:
        _check_name("hyperparameters", name)
    cls = collections.namedtuple("Hyperparameters", list(d))
    cls.__reduce__ = lambda self: (_rebuild, (dict(self._asdict()),))
    return cls(**d)


def load_hparams(path_or_json: str | Path) -> dict[str, Any]:
    """One fixed hyperparameter dict, from a JSON file or an inline JSON object.

    A one-element list is accepted too (a fixed-point search space with one point).
    """
    text = str(path_or_json)
    if text.lstrip().startswith("{"):
        try:
            data, where = json.loads(text), "--hparams"
        except json.JSONDecodeError as e:
            raise SearchSpaceError(f"--hparams: inline JSON is invalid at column {e.colno}: "
                                   f"{e.msg}.") from None
    else:
        where = text
        data = _read_json(Path(text), "hyperparameter file")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise SearchSpaceError(f"{where}: hyperparameters must be a JSON object of name -> value, "
                               f"got {type(data).__name__}.")
    for name, value in data.items():
        _check_name(where, name)
        if isinstance(value, dict):
            raise SearchSpaceError(
                f"{where}: field {name!r} is an object ({value!r}); this looks like a search "
                f"space. Pass it with --search-space and --trial, or give a plain value.")
    return dict(data)
