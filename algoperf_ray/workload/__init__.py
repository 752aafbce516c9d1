"""What every workload shares: the framework-neutral base, placements, metrics and RNG helpers."""
