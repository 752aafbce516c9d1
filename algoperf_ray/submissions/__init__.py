"""The baseline submissions, importable as ``algoperf_ray.submissions.<name>``.

The files live in the repository's top-level ``submissions/`` folder, where users
look for them. They are not installed as a top-level ``submissions`` package: that
generic name would shadow a user's own ``submissions`` package (public submissions
import ``submissions.<...>`` from their own repository). This package points its
search path at that folder instead.
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parents[2] / "submissions")]
