"""``algoperf.jax_utils`` for submissions: the call-time-rate Dropout and a model summary.

The Dropout layer is this project's one implementation
(:mod:`algoperf_ray.workload.dropout_jax`), re-exported so that
``algoperf.jax_utils.Dropout`` is the very class the workloads use.
"""

from __future__ import annotations

from typing import Any

import jax

from algoperf_ray.workload.dropout_jax import Dropout

__all__ = ["Dropout", "print_jax_model_summary"]


def print_jax_model_summary(model: Any, fake_inputs: Any) -> None:
    """Print Flax's layer table of ``model`` on ``fake_inputs`` (a debugging aid).

    Models that take a ``train`` flag are summarised in eval mode, so no
    dropout RNG or batch-norm update is needed.
    """
    key = jax.random.PRNGKey(0)
    rngs = {"params": key, "dropout": key}
    try:
        table = model.tabulate(rngs, fake_inputs, train=False)
    except TypeError:  # the model's __call__ has no train flag
        table = model.tabulate(rngs, fake_inputs)
    print(table)
