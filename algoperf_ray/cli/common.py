"""Helpers shared by CLI commands: clean error exits and the shared options.

One option style for every command: ``Annotated[type, typer.Option(help=...)]``
parameters, named after their flag (``--max-runtime-sec`` is
``max_runtime_sec``). The options several commands share are defined once here
so their flag, type and help read the same everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

# soft_wrap: an error line is never broken mid-path at the terminal width, so it
# stays whole in logs and greps (and reads the same in CI and in a terminal).
err_console = Console(stderr=True, soft_wrap=True)

VersionOption = Annotated[str | None, typer.Option(
    "--version", help="Benchmark version whose rules apply: 0.5, 0.6 or 0.6-lm "
                      "(default: the current version, 0.6).")]
RulesetOption = Annotated[str, typer.Option(
    "--ruleset", help="external (tuned hyperparameters) or self (self-tuning).")]
FrameworkOption = Annotated[str, typer.Option("--framework", help="jax or pytorch.")]


class UserError(Exception):
    """Bad input from the user: printed without a traceback, exit code 2."""


@contextlib.contextmanager
def user_errors(*types: type[BaseException]) -> Iterator[None]:
    """Turn expected errors into one red line and exit code 2."""
    try:
        yield
    except (UserError, *types) as e:  # noqa: B030
        err_console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e


def check_duration(name: str, value: float | None) -> None:
    """A duration option must be >= 0 seconds (a negative budget is a usage error)."""
    if value is not None and not value >= 0:
        raise UserError(f"{name} must be >= 0 seconds, got {value}")


HardwareOption = Annotated[str | None, typer.Option(
    "--hardware", help="Benchmark hardware class: v100x8 (the published budgets) or a100x8. "
                       "Pins GPU trials to that node type; another class than the "
                       "budgets' needs --budgets.")]
BudgetsOption = Annotated[str | None, typer.Option(
    "--budgets", help="JSON file {workload: seconds}: the runtime budgets of --hardware "
                      "(before the self-tuning factor).")]


def hardware_budgets(version: str, hardware: str | None, budgets: str | None,
                     workloads: list[str], ruleset: str, max_runtime: float | None
                     ) -> tuple[str | None, dict[str, float] | None]:
    """(hardware class, budget table), checked: every workload has a budget on it.

    Fails before any trial starts, naming the workload and the fix, instead
    of letting an A100 trial silently run on the V100 budget.
    """
    from algoperf_ray.benchmark.hardware import budget_override, get_hardware, load_budget_table
    from algoperf_ray.benchmark.versions import get_version

    v = get_version(version)
    hw = get_hardware(hardware).name if hardware is not None else None
    table = load_budget_table(budgets, set(v.workloads) | set(workloads)) if budgets else None
    for w in workloads:
        runtime = budget_override(w, max_runtime, table)
        if runtime is None and w not in v.workloads:
            continue  # a dev workload outside the version: its own number applies
        v.max_runtime_sec(w, ruleset, runtime_sec=runtime, hardware=hw)
    return hw, table
