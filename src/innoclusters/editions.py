"""Editions: the year window of each metric in one edition of the ranking.

An *edition* is named after its year ``Y`` and, like the GII's, counts each metric over its
own five-year window, lagged because documents are published late: PCT applications
``Y-5..Y-1``, scientific articles ``Y-6..Y-2`` and venture-capital deals ``Y-5..Y-1``
(GII 2024: PCT 2019-2023, articles 2018-2022). The offsets are settings
(``edition_offsets``); an explicit ``years`` window for a metric wins over the edition.

The window of each metric is chosen in this order:

1. ``years[metric]`` when given;
2. ``edition + edition_offsets[metric]`` when ``edition`` is given (the offsets default to
   :data:`~innoclusters.config.DEFAULT_EDITION_OFFSETS`);
3. the latest ``window_years`` years present in the metric's records.

Records outside their metric's window are left out of the run and counted in
``manifest.json`` (``windows.<metric>.records_outside_window``); they are not rejected.

A window may hold records of only some of its years (edition 2028 on data up to 2023
counts patents of 2023 alone, one year of five). ``manifest.json`` lists, per metric, the
``years_with_records`` and ``years_without_records`` of its window; when the window was asked
for (by ``edition`` or ``years``), :func:`partial_window_warnings` says so in a warning that
the run emits (:class:`~innoclusters.errors.PartialWindowWarning`) and the CLI prints on
stderr. The default window (the latest years present) is not warned about: it is as full as
the data allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from innoclusters.config import DEFAULT_EDITION_OFFSETS, METRICS, Settings
from innoclusters.errors import SettingsError

__all__ = [
    "edition_window",
    "partial_window_warnings",
    "resolve_windows",
    "window_coverage",
    "window_label",
    "window_source",
]


def edition_window(
    edition: int, metric: str, offsets: Mapping[str, tuple[int, int]] | None = None
) -> tuple[int, int]:
    """Year window ``(first, last)`` of ``metric`` in the edition of year ``edition``.

    Parameters
    ----------
    edition
        The edition year ``Y``.
    metric
        One of :data:`~innoclusters.config.METRICS`.
    offsets
        Offsets per metric; metrics not named use the GII's.

    Returns
    -------
    tuple of int
        Inclusive years.

    Examples
    --------
    >>> edition_window(2024, "publications")
    (2018, 2022)
    """
    first, last = (offsets or {}).get(metric, DEFAULT_EDITION_OFFSETS[metric])
    return edition + int(first), edition + int(last)


def resolve_windows(
    spans: Mapping[str, tuple[int, int]],
    settings: Settings,
    *,
    metrics: Iterable[str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Year window of each metric: explicit ``years``, else the edition's, else the latest years.

    Parameters
    ----------
    spans
        ``metric -> (first year, last year)`` present in the accepted records.
    settings
        Supplies ``years``, ``edition``, ``edition_offsets`` and ``window_years``.
    metrics
        Metrics to give a window (default: those in ``spans``, in output order).

    Returns
    -------
    dict
        ``metric -> (first, last)`` inclusive.

    Raises
    ------
    SettingsError
        When an edition's window of a metric holds none of its records (the edition is
        outside the data), naming the window, the years present and the editions that fit.
    """
    wanted = [m for m in METRICS if m in (spans if metrics is None else set(metrics))]
    windows: dict[str, tuple[int, int]] = {}
    for metric in wanted:
        if metric in settings.years:
            first, last = settings.years[metric]
            windows[metric] = (int(first), int(last))
        elif settings.edition is not None:
            first, last = edition_window(settings.edition, metric, settings.edition_offsets)
            lo, hi = spans[metric]
            if last < lo or first > hi:
                off_first, off_last = settings.edition_offsets.get(
                    metric, DEFAULT_EDITION_OFFSETS[metric]
                )
                raise SettingsError(
                    f"setting 'edition' {settings.edition} gives the {metric} window "
                    f"{first}-{last}, but the {metric} records span {lo}-{hi}; choose an "
                    f"edition from {lo - off_last} to {hi - off_first}"
                )
            windows[metric] = (first, last)
        else:
            last = int(spans[metric][1])
            windows[metric] = (last - settings.window_years + 1, last)
    return windows


def window_label(windows: Mapping[str, tuple[int, int]] | Mapping[str, list[int]]) -> str:
    """A short label of a run's windows: ``patents 2019-2023, publications 2018-2022``."""
    return ", ".join(f"{m} {int(w[0])}-{int(w[1])}" for m, w in windows.items())


def window_source(metric: str, settings: Settings) -> str:
    """Which setting chose ``metric``'s window: ``years``, ``edition`` or ``latest``."""
    if metric in settings.years:
        return "years"
    return "edition" if settings.edition is not None else "latest"


def window_coverage(
    windows: Mapping[str, tuple[int, int]], present: Mapping[str, Iterable[int]]
) -> dict[str, dict[str, list[int]]]:
    """The years of each window that hold records of its metric, and those that hold none.

    Parameters
    ----------
    windows
        ``metric -> (first, last)`` inclusive.
    present
        ``metric -> years`` that have at least one accepted record of the metric.

    Returns
    -------
    dict
        ``metric -> {"years_with_records": [...], "years_without_records": [...]}``.

    Examples
    --------
    >>> window_coverage({"patents": (2023, 2027)}, {"patents": range(2015, 2024)})
    {'patents': {'years_with_records': [2023], 'years_without_records': [2024, 2025, 2026, 2027]}}
    """
    out: dict[str, dict[str, list[int]]] = {}
    for metric, (first, last) in windows.items():
        have = {int(y) for y in present.get(metric, ())}
        years = range(int(first), int(last) + 1)
        out[metric] = {
            "years_with_records": [y for y in years if y in have],
            "years_without_records": [y for y in years if y not in have],
        }
    return out


def _years_text(years: Iterable[int]) -> str:
    """``2024-2027`` for a run of years, ``2019, 2021-2022`` otherwise."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][1] + 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def partial_window_warnings(
    windows: Mapping[str, tuple[int, int]],
    coverage: Mapping[str, Mapping[str, list[int]]],
    settings: Settings,
) -> list[str]:
    """One sentence per asked-for window that holds records of only part of its years.

    Parameters
    ----------
    windows
        ``metric -> (first, last)`` of the run.
    coverage
        :func:`window_coverage` of those windows.
    settings
        Says whether each window came from ``years``, ``edition`` or the latest years
        (the latter are not warned about).

    Returns
    -------
    list of str
        Empty when every asked-for window is full.
    """
    out: list[str] = []
    for metric, (first, last) in windows.items():
        source = window_source(metric, settings)
        missing = coverage[metric]["years_without_records"]
        if source == "latest" or not missing:
            continue
        length = int(last) - int(first) + 1
        held = length - len(missing)
        who = (
            f"setting 'years.{metric}'"
            if source == "years"
            else f"edition {settings.edition}: the {metric} window"
        )
        verb = "has" if len(missing) == 1 else "have"
        out.append(
            f"{who} {first}-{last} holds {metric} records of {held} of its {length} years "
            f"({_years_text(missing)} {verb} none), so {metric} is counted over {held} "
            f"year{'s' if held != 1 else ''}, not {length}; choose an edition or years "
            "inside the data to compare like with like"
        )
    return out
