"""algoperf-ray: the MLCommons AlgoPerf benchmark on Ray.

Importing this package is cheap: it pulls in neither torch, jax nor
tensorflow. Framework code lives in ``*_jax.py`` / ``*_torch.py`` leaves.
"""

__version__ = "0.1.0"
