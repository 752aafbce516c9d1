"""The benchmark's workload families, importable as ``algoperf_ray.workloads.<name>``.

The files live in the repository's top-level ``workloads/`` folder, where users
look for them. They are not installed as a top-level ``workloads`` package: that
generic name would shadow a user's own ``workloads`` package (public submissions
import ``workloads.<...>`` from their own repository). This package points its
search path at that folder instead.
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parents[2] / "workloads")]
