"""OECD REGPAT: inventors of PCT applications, the nearest open source to the GII's PCT metric.

Upstream: the OECD REGPAT database (request access at https://www.oecd.org/sti/intellectual-
property-statistics-and-analysis.htm), pipe-separated text files with a header, named by
edition, extracted from their ``.7z`` archives (plain, ``.gz`` or ``.zip`` are read):

- ``YYYYMM_PCT_Inv_reg.txt`` [``pct_nbr`` (or ``appln_id``), ``city``, ``reg_code``,
  ``ctry_code``, ``inv_share``]: one row per inventor of a PCT application; **each row is
  one record**;
- ``YYYYMM_PCT_IPC.txt`` [``pct_nbr``, ``app_year``, ``prio_year``]: the year, by default
  the application (filing) year, ``year = "priority"`` for the priority year (one row per
  IPC class upstream: the earliest year of an application is used).

The inventor's address has no coordinates: it is geocoded offline from ``city`` and
``ctry_code`` (``reg_code`` is an OECD TL3/NUTS3 code, kept for the record but not a place
name). Counting uses the table's own ``inv_share`` (each inventor's share of the application,
summing to 1): a row that cannot be placed is rejected and the application's 1 is shared
among the placed inventors in proportion to their ``inv_share``. ``doc_id`` is ``pct_nbr``
(``WO2015012345``). No filter: every row is used or rejected.
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
    find_suffixed,
    header_of,
    readable,
    sql_file,
)

__all__ = ["COLUMNS", "NAME", "OPTIONS", "detect", "prepare"]

NAME = "regpat"

#: Columns of the row-defining table (``PCT_Inv_reg``), for detection messages.
COLUMNS: tuple[str, ...] = ("pct_nbr", "city", "ctry_code", "inv_share")

#: Settings of ``[sources.<metric>]`` this adapter knows, with their defaults.
OPTIONS: Mapping[str, Any] = {"year": "filing"}


def _pipe(path: Path) -> str:
    return (
        f"read_csv({sql_file(path)}, delim='|', header=true, quote='\"', escape='\"', "
        "all_varchar=true, normalize_names=true)"
    )


def detect(paths: Sequence[Path]) -> Detection:
    """Whether ``paths`` hold a REGPAT ``PCT_Inv_reg`` and ``PCT_IPC`` table."""
    missing = tuple(
        f"YYYYMM{s.upper()}.txt"
        for s in ("_pct_inv_reg", "_pct_ipc")
        if find_suffixed(paths, s) is None
    )
    return Detection(NAME, missing, 2 - len(missing))


def prepare(paths: Sequence[Path], options: Mapping[str, Any], workdir: Path) -> list[Prepared]:
    """The SQL reading REGPAT PCT inventors as patent records (see the module docstring)."""
    check_options(NAME, options, OPTIONS)
    year_from = str(options.get("year", OPTIONS["year"]))
    if year_from not in ("filing", "priority"):
        raise SettingsError(f"regpat setting 'year' must be filing or priority, got {year_from!r}")
    inv = find_suffixed(paths, "_pct_inv_reg")
    ipc = find_suffixed(paths, "_pct_ipc")
    if inv is None or ipc is None:
        table = "YYYYMM_PCT_Inv_reg.txt" if inv is None else "YYYYMM_PCT_IPC.txt"
        raise InputError(
            f"{', '.join(map(str, paths))}: REGPAT needs {table} (extracted from its .7z); "
            "pass the folder holding the PCT_Inv_reg and PCT_IPC files"
        )
    inv_r, ipc_r = readable(inv, workdir), readable(ipc, workdir)
    cols = {c.strip().lower() for c in header_of(inv_r, workdir)}
    key = "pct_nbr" if "pct_nbr" in cols else "appln_id"
    lacking = [c for c in (key, "city", "ctry_code") if c not in cols]
    if lacking:
        raise InputError(f"{inv}: REGPAT inventor table lacks {', '.join(lacking)}")
    share = "inv_share" if "inv_share" in cols else "'1'"
    year_col = "app_year" if year_from == "filing" else "prio_year"
    sql = f"""WITH inv AS (SELECT * FROM @STAGED),
      yr AS (SELECT {key} AS k, min(TRY_CAST({year_col} AS INTEGER)) AS year
        FROM {_pipe(ipc_r)} GROUP BY ALL)
    SELECT i.{key} AS doc_id, CAST(y.year AS VARCHAR) AS year, i.city AS city,
      i.ctry_code AS country, {share} AS _share,
      CASE WHEN y.k IS NULL THEN '{key} not in {ipc.name}' END AS _problem,
      CAST(NULL AS VARCHAR) AS _filter, i._row AS _row
    FROM inv AS i LEFT JOIN yr AS y ON y.k = i.{key}"""
    return [
        Prepared(
            adapter=NAME,
            path=inv,
            files=(inv, ipc),
            sql=sql,
            staged=f"SELECT * FROM {_pipe(inv_r)}",
            columns={
                "doc_id": f"PCT_Inv_reg.{key}",
                "year": f"PCT_IPC.{year_col}",
                "city": "PCT_Inv_reg.city",
                "country": "PCT_Inv_reg.ctry_code",
                "weight": "PCT_Inv_reg.inv_share (renormalised over placed inventors)",
            },
        )
    ]
