"""``algoperf-ray describe WORKLOAD``: print a workload's facts as JSON."""

from __future__ import annotations

import json

import typer

from algoperf_ray.cli.common import user_errors


def describe_cmd(
    workload: str = typer.Argument(..., help="Workload name, e.g. criteo1tb or wmt_glu_tanh."),
    framework: str = typer.Option("jax", "--framework", "-f", help="jax or pytorch."),
) -> None:
    """Print num_params, parameter shapes, loss type, targets, budgets and batch shapes."""
    from algoperf_ray.benchmark import describe, registry

    with user_errors(registry.UnknownWorkloadError, registry.UnknownFrameworkError):
        registry.check_framework(framework)
        facts = describe.describe(workload, framework)
    typer.echo(json.dumps(facts, indent=2, default=str))


def register(app: typer.Typer) -> None:
    app.command("describe")(describe_cmd)
