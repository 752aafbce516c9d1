"""AlgoPerf workloads: one folder per family.

Each family folder has a framework-free ``metadata.py`` declaring
``WORKLOADS: list[WorkloadMeta]`` (base workload and variants), plus the
data pipeline and ``<name>_jax.py`` / ``<name>_torch.py`` leaf modules.
``algoperf_ray.registry`` discovers families from this package.
"""
