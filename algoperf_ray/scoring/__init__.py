"""Scoring and reporting: trial summaries, the leaderboard, performance profiles, speedups."""
