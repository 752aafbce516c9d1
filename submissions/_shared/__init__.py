"""Code shared by the baseline submissions (batch sizes, schedules, train steps)."""
