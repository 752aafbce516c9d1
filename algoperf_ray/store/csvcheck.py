"""Checks of one ``eval_measurements.csv``: a damaged log is rejected, never half-read.

Why each check exists (each was seen to change a score silently):

- a header is decoded as strict UTF-8: one bad byte in
  ``validation/mean_average_precision`` once dropped the target column, and
  the trial's time-to-target became inf;
- a header may hold only AlgoPerf columns (timing columns, ``score`` and
  ``train/``, ``validation/``, ``test/`` metrics), each once;
- a last line without a final newline is a file cut while it was written: a
  ``validation/wer`` of ``0.0...`` cut after its first digit reads as ``0``
  and "reaches" the target. The reference writer always ends a file with a
  newline, and such a line can parse to every column, so it is rejected;
- a row whose field count or numbers do not parse (a bad byte, a repeated
  header line, a non-numeric cell) is located by :func:`locate_bad_line`, so
  the error names the line.

Every message names the path and the line, and says how to fix it.
"""

from __future__ import annotations

from algoperf_ray.store import schema as S

TIME_COLUMNS = ("score", "accumulated_submission_time")
KNOWN = frozenset({*S.TIMING_COLUMNS, "score"})
_FIX = "re-copy the file from the run that wrote it, or remove its trial folder"


def fail(path: str, line: int | None, what: str, fix: str = _FIX) -> str:
    where = f"{path}" + (f", line {line}" if line is not None else "")
    return f"{where}: {what}; {fix} (or pass --skip-bad to import the rest)"


def check_header(path: str, header: bytes) -> tuple[list[str] | None, str | None]:
    """The header's column names, or an error message naming what is wrong."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = header[e.start:e.start + 1]
        return None, fail(path, 1, f"the header is not valid UTF-8 (byte {bad!r} at "
                                   f"position {e.start}: "
                                   f"{header[max(0, e.start - 30):e.end + 10]!r})")
    names = [n.strip().strip('"') for n in text.split(",")]
    unknown = [n for n in names if n not in KNOWN and not S.is_metric(n)]
    if unknown:
        return None, fail(path, 1, f"wrong header: unknown column(s) "
                                   f"{', '.join(repr(n) for n in unknown[:5])}; an AlgoPerf "
                                   f"eval_measurements.csv has only {', '.join(sorted(KNOWN))} "
                                   f"and train/, validation/, test/ metrics")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return None, fail(path, 1, f"wrong header: column(s) {', '.join(dupes)} appear twice")
    if not any(c in names for c in TIME_COLUMNS):
        return None, fail(path, 1, "wrong header: no 'score' or 'accumulated_submission_time' "
                                   "column, so no time-to-target can be read")
    return names, None


def check_ending(path: str, data: bytes) -> str | None:
    """An error when the file does not end with a newline (it was cut while written)."""
    if data.endswith(b"\n"):
        return None
    line = data.count(b"\n") + 1
    return fail(path, line, "the last line has no final newline, so the file was cut while "
                            "it was written (truncated)",
                "re-copy the file or re-run the trial; if the line is complete, add the "
                "newline (echo >> FILE)")


def check_target_column(path: str, names: list[str], metric_column: str | None,
                        workload: str) -> str | None:
    if metric_column is None or metric_column in names:
        return None
    return fail(path, 1, f"wrong header: no {metric_column!r} column, the target metric of "
                         f"{workload}, so its time-to-target could never be read")


def locate_bad_line(path: str, header: list[str], body: bytes) -> str:
    """Find the first line whose field count or numbers do not parse; the message names it.

    Runs only on a file pyarrow rejected (the slow path), so a plain loop is fine.
    """
    keep = [i for i, n in enumerate(header) if n in KNOWN or S.is_metric(n)]
    for offset, raw in enumerate(body.split(b"\n")):
        if not raw.strip():
            continue
        line = offset + 2
        fields = raw.split(b",")
        if len(fields) != len(header):
            what = ("a repeated header line" if raw.startswith(b"accumulated_")
                    or b"/" in raw else f"{len(fields)} fields, the header has {len(header)}")
            return fail(path, line, what)
        for i in keep:
            cell = fields[i].strip()
            if not cell:
                continue
            try:
                float(cell.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                what = ("a repeated header line" if cell.decode("utf-8", "replace") == header[i]
                        else f"column {header[i]!r} holds {cell[:40]!r}, not a number")
                return fail(path, line, what)
    return fail(path, None, "malformed CSV (pyarrow could not parse it)")
