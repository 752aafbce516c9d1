"""The ``algoperf-ray`` command line.

Each subcommand lives in its own module and registers itself on the shared
Typer app. Heavy imports (pyarrow compute, torch, jax, ray) happen inside the
command functions, so ``algoperf-ray --help`` stays fast and framework-free.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="algoperf-ray",
    help="Run the MLCommons AlgoPerf benchmark on Ray: run, tune, ingest, score.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that define commands; each exposes ``register(app)``.
_COMMAND_MODULES = ("run", "tune", "check", "ingest", "score", "describe")


@app.callback()
def _root() -> None:
    """Run the MLCommons AlgoPerf benchmark on Ray: run, tune, ingest, score."""


for _name in _COMMAND_MODULES:
    importlib.import_module(f"algoperf_ray.cli.{_name}").register(app)


def main() -> None:
    app()
