"""Worldwide geocoded patents of de Rassenfosse, Kozak and Seliger (Scientific Data, 2019).

Upstream: Harvard Dataverse, doi:10.7910/DVN/OTTBDX, "Geocoding of worldwide patent data":
``geoc_inv.txt`` (inventors) and ``geoc_app.txt`` (applicants), comma-separated with a
header, as downloaded zipped or extracted. Columns used: ``appln_id`` (the PATSTAT
application id of a first filing), ``filing_date``, ``lat``, ``lng``, ``ctry_code``, and
``city`` when present. Each row is one address of one first filing; **each row is one
record**, placed at its coordinates (rows without coordinates but with a city are geocoded).

``who = "inventors"`` (default) reads ``geoc_inv``; ``"applicants"`` reads ``geoc_app``.
Counting: fractional per ``appln_id`` over its addresses; the year is that of
``filing_date``. No filter: every row is used or rejected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError, SettingsError
from innoclusters.sources.base import (
    Detection,
    Prepared,
    check_options,
    find_table,
    header_of,
    readable,
    sql_file,
)

__all__ = ["COLUMNS", "NAME", "OPTIONS", "detect", "prepare"]

NAME = "rasenfosse"

#: Columns of the row-defining table, for detection messages.
COLUMNS: tuple[str, ...] = ("appln_id", "filing_date", "lat", "lng", "ctry_code")

#: Settings of ``[sources.<metric>]`` this adapter knows, with their defaults.
OPTIONS: Mapping[str, Any] = {"who": "inventors"}

_TABLES = {"inventors": "geoc_inv", "applicants": "geoc_app"}


def detect(paths: Sequence[Path]) -> Detection:
    """Whether ``paths`` hold ``geoc_inv.txt`` or ``geoc_app.txt``."""
    n = sum(find_table(paths, t) is not None for t in _TABLES.values())
    return Detection(NAME, () if n else ("geoc_inv.txt",), n)


def prepare(paths: Sequence[Path], options: Mapping[str, Any], workdir: Path) -> list[Prepared]:
    """The SQL reading the geocoded first filings as patent records."""
    check_options(NAME, options, OPTIONS)
    who = str(options.get("who", OPTIONS["who"]))
    if who not in _TABLES:
        raise SettingsError(
            f"rasenfosse setting 'who' must be inventors or applicants, got {who!r}"
        )
    path = find_table(paths, _TABLES[who])
    if path is None:
        raise InputError(
            f"{', '.join(map(str, paths))}: no {_TABLES[who]}.txt found; download it from "
            "doi:10.7910/DVN/OTTBDX"
        )
    src = readable(path, workdir)
    cols = {c.strip().lower() for c in header_of(src, workdir)}
    lacking = [c for c in COLUMNS if c not in cols]
    if lacking:
        raise InputError(f"{path}: lacks column(s) {', '.join(lacking)} of {_TABLES[who]}")
    city = "city" if "city" in cols else "NULL"
    sql = f"""WITH g AS (SELECT * FROM @STAGED)
    SELECT appln_id AS doc_id, filing_date AS year, lat, lng AS lon, ctry_code AS country,
      {city} AS city, CAST(NULL AS VARCHAR) AS _filter, _row FROM g"""
    return [
        Prepared(
            adapter=NAME,
            path=path,
            files=(path,),
            sql=sql,
            staged=f"SELECT * FROM read_csv({sql_file(src)}, header=true, all_varchar=true, "
            "quote='\"', escape='\"')",
            columns={
                "doc_id": f"{_TABLES[who]}.appln_id",
                "year": f"{_TABLES[who]}.filing_date",
                "lat": f"{_TABLES[who]}.lat",
                "lon": f"{_TABLES[who]}.lng",
                "country": f"{_TABLES[who]}.ctry_code",
            },
        )
    ]
