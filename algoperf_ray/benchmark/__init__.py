"""The benchmark's rules as data: versions (the one rulebook), workload metadata, the registry."""
