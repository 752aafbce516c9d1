"""Compatibility name for JAX leaves written before placements existed.

New leaves subclass their family class and set ``framework = "jax"``; the
placement (:mod:`algoperf_ray.workload.placement_jax`) does the sharding
this module used to do. Kept so that older leaves and test fakes import.
"""

from __future__ import annotations

from algoperf_ray.workload.base import BaseWorkload


class JaxWorkload(BaseWorkload):
    """``BaseWorkload`` with ``framework = "jax"``."""

    framework = "jax"
