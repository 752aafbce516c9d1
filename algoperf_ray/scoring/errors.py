"""The scorer's exceptions and warnings, in one small module every stage imports."""

from __future__ import annotations


class ScoringError(ValueError):
    """The rows cannot be scored as asked; the message says what and how to fix it."""


class ScoringWarning(UserWarning):
    """The logs differ from the rules (counts, missing workloads, interrupted trials).

    Scoring goes on (``--strict`` turns these into a :class:`ScoringError`).
    """


class SummaryCacheWarning(UserWarning):
    """A stored per-trial summary could not be read; it was rebuilt from the eval rows."""


class StaleSummaryError(ScoringError):
    """Stored per-trial summaries were computed with other targets than this version's."""
