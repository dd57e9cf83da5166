"""Any other table (Dealroom, PitchBook, an agency's own export): a column map, no code.

The generic records reader (:mod:`innoclusters.records`) reads CSV, TSV, Parquet and JSON
Lines whose headers are the records columns or their common spellings. For an export whose
headers are something else, name them in the settings TOML::

    [sources.vc]
    format = "table"
    columns = {doc_id = "Deal ID", year = "Deal Date", city = "HQ City",
               country = "HQ Country"}

``year`` may hold a date in any common form (``2021-03-15``, ``15/03/2021``,
``Mar 15, 2021``): its four-digit year is used. Columns not named in the map are still
matched by their usual names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError, SettingsError
from innoclusters.sources.base import check_options

__all__ = ["COLUMNS", "NAME", "OPTIONS", "map_columns"]

NAME = "table"

#: Records columns a column map may name.
COLUMNS: tuple[str, ...] = (
    "doc_id",
    "year",
    "lat",
    "lon",
    "country",
    "weight",
    "city",
    "region",
    "org",
    "field",
    "metric",
)

#: Settings of ``[sources.<metric>]`` this adapter knows.
OPTIONS: Mapping[str, Any] = {"columns": {}}


def map_columns(
    options: Mapping[str, Any], header: Sequence[str], path: Path | str
) -> dict[str, str]:
    """The explicit part of a file's column mapping: records column -> the file's column.

    Raises
    ------
    SettingsError
        When the map is not a table of records columns to names, or has unknown keys.
    InputError
        When a column it names is not in the file's header.
    """
    check_options(NAME, options, OPTIONS)
    columns = options.get("columns", {})
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        raise SettingsError(
            "setting 'columns' must be a table of records column = \"file column\", e.g. "
            '{doc_id = "Deal ID", year = "Deal Date"}'
        )
    bad = sorted(set(columns) - set(COLUMNS))
    if bad:
        raise SettingsError(
            f"setting 'columns' names {', '.join(bad)}, not records columns; use "
            f"{', '.join(COLUMNS)}"
        )
    by_key = {h.strip().lower(): h for h in header}
    mapping: dict[str, str] = {}
    for column, name in columns.items():
        found = name if name in header else by_key.get(name.strip().lower())
        if found is None:
            raise InputError(
                f"{path}: column '{name}' (mapped to {column} in the settings) is not in the "
                f"header ({', '.join(repr(h) for h in header)}); fix the column map"
            )
        mapping[column] = found
    return mapping
