"""Source adapters: read the datasets users hold, exactly as they are downloaded.

One module per upstream source; each documents the exact files it reads, the filters it
applies and how it counts (see ``docs/sources.md``):

- :mod:`~innoclusters.sources.patentsview`: USPTO PatentsView bulk tables (``g_``, ``pg_``);
- :mod:`~innoclusters.sources.regpat`: OECD REGPAT PCT inventors;
- :mod:`~innoclusters.sources.rasenfosse`: worldwide geocoded first filings (de Rassenfosse,
  Kozak and Seliger 2019);
- :mod:`~innoclusters.sources.openalex`: OpenAlex works snapshot and API pages;
- :mod:`~innoclusters.sources.crunchbase`: Crunchbase bulk export and old open snapshot;
- :mod:`~innoclusters.sources.table`: any other table, with a column map in the settings.

Choose an adapter with ``--patents patentsview:DIR`` or ``[sources.patents] format =
"patentsview"`` in the settings TOML; without one, it is detected from the files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError, SettingsError
from innoclusters.sources import crunchbase, openalex, patentsview, rasenfosse, regpat, table
from innoclusters.sources.base import Detection, Prepared, SourceSpec, planning_only

__all__ = [
    "ADAPTERS",
    "METRIC_OF",
    "NAMES",
    "Detection",
    "Prepared",
    "SourceSpec",
    "closest_adapter",
    "detect",
    "parse_source",
    "prepare",
]

#: Adapters that read upstream layouts, by name (``table`` is the generic records reader).
ADAPTERS: Mapping[str, Any] = {
    "patentsview": patentsview,
    "regpat": regpat,
    "rasenfosse": rasenfosse,
    "openalex": openalex,
    "crunchbase": crunchbase,
}

#: The metric each adapter's records belong to, for commands that read files of one source.
METRIC_OF: Mapping[str, str] = {
    "patentsview": "patents",
    "regpat": "patents",
    "rasenfosse": "patents",
    "openalex": "publications",
    "crunchbase": "vc",
}

#: Every adapter name a user may give.
NAMES: tuple[str, ...] = (*ADAPTERS, table.NAME)


def parse_source(text: str | Path) -> tuple[str, Path]:
    """Split ``ADAPTER:PATH`` (``patentsview:data/pv``) into the adapter and the path.

    A plain path (no known adapter before a colon) gives an empty adapter name.
    """
    raw = str(text)
    name, sep, rest = raw.partition(":")
    if sep and name.lower() in NAMES:
        return name.lower(), Path(rest)
    if sep and len(name) > 1 and "/" not in name and "\\\\" not in name and not Path(raw).exists():
        raise InputError(
            f"'{raw}': unknown source format '{name}'; use one of {', '.join(NAMES)} "
            "(e.g. patentsview:DIR), or a plain path"
        )
    return "", Path(raw)


def detect(paths: Sequence[Path]) -> str:
    """The adapter that reads ``paths``, or ``""`` when no upstream layout fits them."""
    for name, module in ADAPTERS.items():
        if module.detect(paths).fits:
            return name
    return ""


def closest_adapter(header: Sequence[str]) -> tuple[str, list[str]]:
    """The upstream adapter whose row-defining columns best match a header, and those lacking."""
    have = {h.strip().lower() for h in header}
    best = max(ADAPTERS.items(), key=lambda kv: len(have & set(kv[1].COLUMNS)))
    return best[0], [c for c in best[1].COLUMNS if c not in have]


def prepare(spec: SourceSpec, workdir: Path, *, plan_only: bool = False) -> list[Prepared]:
    """Plan the reading of one source with its adapter.

    With ``plan_only``, nothing is unzipped into ``workdir``
    (:func:`~innoclusters.sources.base.planning_only`): the settings are checked and the
    files found, for an engine that reads the upstream files itself (``Prepared.files``)
    and runs none of the planned SQL.

    Raises
    ------
    SettingsError
        When the adapter is unknown.
    InputError
        When its files are missing or unreadable.
    """
    module = ADAPTERS.get(spec.adapter)
    if module is None:
        raise SettingsError(
            f"unknown source format '{spec.adapter}'; use one of {', '.join(NAMES)}"
        )
    for p in spec.paths:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder; check the path")
    with planning_only() if plan_only else contextlib.nullcontext():
        return list(module.prepare(list(spec.paths), spec.options, workdir))
