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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from innoclusters.config import DEFAULT_EDITION_OFFSETS, METRICS, Settings
from innoclusters.errors import SettingsError

__all__ = ["edition_window", "resolve_windows", "window_label"]


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
