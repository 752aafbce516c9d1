"""``algoperf-ray describe WORKLOAD``: print a workload's facts as JSON."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from algoperf_ray.cli.common import user_errors


def describe_cmd(
    workload: Annotated[str, typer.Argument(help="Workload name, e.g. criteo1tb or wmt_glu_tanh.")],
    framework: Annotated[str, typer.Option("--framework", "-f", help="jax or pytorch.")] = "jax",
) -> None:
    """Print num_params, parameter shapes, loss type, targets, budgets and batch shapes."""
    from algoperf_ray.benchmark import describe, registry

    with user_errors(registry.UnknownWorkloadError, registry.UnknownFrameworkError):
        registry.check_framework(framework)
        facts = describe.describe(workload, framework)
    typer.echo(json.dumps(_jsonable(facts), indent=2, default=str, allow_nan=False))


def _jsonable(value: object) -> object:
    """Valid JSON: a workload without a test split has test_target inf, printed as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def register(app: typer.Typer) -> None:
    app.command("describe")(describe_cmd)
