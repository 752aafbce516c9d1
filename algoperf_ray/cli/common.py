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

err_console = Console(stderr=True)

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
