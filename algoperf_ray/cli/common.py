"""Helpers shared by CLI commands: clean error exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

err_console = Console(stderr=True)


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
