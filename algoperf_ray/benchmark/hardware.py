"""Benchmark hardware classes: which machine a trial runs on, and whose budgets it gets.

AlgoPerf budgets are wall-clock seconds measured on one hardware class. The
published v0.5/v0.6 budgets are for 8x V100 16 GB; the reference has since
moved to an 8x A100 class with new budgets (algorithmic-efficiency PR #892),
whose table is not published in any source this release could read. A trial
therefore names its class (``--hardware``), which

* pins it to that node type on a Ray cluster (the ``accelerator_type:<X>``
  resource every node type in ``cluster.yaml`` carries, as Ray's autoscaler
  sets it), and
* asks the rulebook for that class's budgets: the version's own for the
  class they were measured on; for another class, a budget table the operator
  supplies (``--budgets FILE``, JSON ``{workload: seconds}``) or a clear error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class UnknownHardwareError(ValueError):
    """A hardware class name that is not registered; the message lists the valid ones."""


class BudgetTableError(ValueError):
    """A ``--budgets`` file that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class HardwareClass:
    """One benchmark machine: its Ray accelerator resource and GPUs per node."""

    name: str
    accelerator: str  # Ray's accelerator type (the cluster.yaml resource suffix)
    gpus_per_node: int
    description: str

    @property
    def ray_resource(self) -> str:
        """The custom resource a node of this class carries (``accelerator_type:V100``)."""
        return f"accelerator_type:{self.accelerator}"


HARDWARE = {
    "v100x8": HardwareClass("v100x8", "V100", 8, "8x NVIDIA V100 16 GB (the v0.5/v0.6 budgets)"),
    "a100x8": HardwareClass("a100x8", "A100", 8, "8x NVIDIA A100 40 GB (the reference's newer "
                                                 "class; budgets unpublished here)"),
}
DEFAULT_HARDWARE = "v100x8"


def get_hardware(name: str | None = None) -> HardwareClass:
    """The class ``name`` (default: the budgets' class); the error lists the valid names."""
    key = DEFAULT_HARDWARE if name is None else str(name).lower()
    if key not in HARDWARE:
        raise UnknownHardwareError(f"unknown hardware class {name!r}. Valid classes: "
                                   f"{', '.join(HARDWARE)}.")
    return HARDWARE[key]


def load_budget_table(path: str | Path, valid_workloads: set[str] | frozenset[str]
                      ) -> dict[str, float]:
    """``{workload: seconds}`` from a JSON file, validated; errors name the file and field.

    Every key must be a workload the version knows and every value a positive,
    finite number of seconds, so a typo can never fall back to another budget.
    """
    path = Path(path)
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BudgetTableError(f"budget table {path} does not exist; pass a JSON file "
                               f"such as {{\"ogbg\": 12011}}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BudgetTableError(f"budget table {path} is not valid UTF-8 JSON ({e}); write "
                               f"one object of workload name -> seconds") from None
    if not isinstance(raw, dict) or not raw:
        raise BudgetTableError(f"budget table {path} must be a non-empty JSON object of "
                               f"workload name -> seconds, not {type(raw).__name__}")
    table = {}
    for name, value in raw.items():
        if name not in valid_workloads:
            raise BudgetTableError(f"budget table {path}: unknown workload {name!r}. Valid "
                                   f"workloads: {', '.join(sorted(valid_workloads))}.")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise BudgetTableError(f"budget table {path}: {name!r} must be a positive number "
                                   f"of seconds, not {value!r}")
        table[name] = float(value)
    return table


def budget_override(workload: str, max_runtime_sec: float | None,
                    table: dict[str, float] | None) -> float | None:
    """The runtime that replaces the version's budget: an explicit override, else the
    ``--budgets`` entry of ``workload``, else None (the version's own budget applies)."""
    if max_runtime_sec is not None:
        return max_runtime_sec
    return (table or {}).get(workload)
