"""USPTO PatentsView bulk tables: inventor locations of granted patents or pre-grant publications.

Upstream: https://patentsview.org/download/data-download-tables (granted, ``g_``) and
https://patentsview.org/download/pg-download-tables (pre-grant publications, ``pg_``), each a
tab-separated file with a header, as ``.tsv``, ``.tsv.zip`` (as published) or ``.tsv.gz``.

Granted patents read four tables (columns used in brackets):

- ``g_inventor_disambiguated`` [``patent_id``, ``inventor_sequence``, ``location_id``]: one
  row per inventor of a patent; **each row is one record** (its row number is the line of
  rejects);
- ``g_location_disambiguated`` [``location_id``, ``disambig_city``, ``disambig_state``,
  ``disambig_country``, ``latitude``, ``longitude``]: the inventor's geocoded place;
- ``g_application`` [``patent_id``, ``filing_date``]: the year (``year = "filing"``, the
  default: the year the invention was filed, closest to the GII's PCT filing counts);
- ``g_patent`` [``patent_id``, ``patent_type``, ``patent_date``, ``withdrawn``]: the filters
  and, with ``year = "grant"``, the year.

Pre-grant publications read ``pg_inventor_disambiguated`` (``pgpub_id`` instead of
``patent_id``), ``pg_location_disambiguated`` and ``pg_published_application``
[``pgpub_id``, ``filing_date``, ``published_date``, ``patent_type``]; ``year`` is
``"filing"`` (default) or ``"publication"``.

Filters (counted, never silent): ``withdrawn`` (a withdrawn grant) and ``patent type`` (a
type outside ``patent_types``, by default ``["utility"]``: design, plant and reissue
patents are not new inventions in the GII's sense). Counting: fractional per patent over
its inventors (``1 / n`` to each of the ``n`` inventors placed), ``doc_id`` is
``patent_id`` (``pgpub_id``). An inventor whose ``location_id`` is not in the location
table is rejected with that reason; one whose location has a city but no coordinates is
geocoded offline.

Reading: each location is checked once (:attr:`~innoclusters.sources.Prepared.places`); the
patent tables are read as keyed by patent, as PatentsView documents them, and joined once per
patent; if a key repeats (more records than inventor rows), they are read again grouped by
key (:attr:`~innoclusters.sources.Prepared.fallback`), with the earliest filing date and any
one grant date and type (withdrawn if any row says so).
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
    deferred,
    find_table,
    readable,
    sql_file,
    streamed,
    text_list,
    year_text,
)

__all__ = ["COLUMNS", "NAME", "OPTIONS", "detect", "prepare"]

NAME = "patentsview"

#: Columns of the row-defining table (``g_inventor_disambiguated``), for detection messages.
COLUMNS: tuple[str, ...] = ("patent_id", "inventor_sequence", "inventor_id", "location_id")

#: Settings of ``[sources.<metric>]`` this adapter knows, with their defaults.
OPTIONS: Mapping[str, Any] = {"year": "filing", "patent_types": ["utility"]}

_GRANTED = ("g_inventor_disambiguated", "g_location_disambiguated", "g_application", "g_patent")
_PREGRANT = (
    "pg_inventor_disambiguated",
    "pg_location_disambiguated",
    "pg_published_application",
)


def _tsv(path: Path) -> str:
    return (
        f"read_csv({sql_file(path)}, delim='\\t', header=true, quote='\"', escape='\"', "
        "all_varchar=true)"
    )


def detect(paths: Sequence[Path]) -> Detection:
    """How well ``paths`` fit PatentsView: the tables missing for the granted or pre-grant set."""
    found_g = [t for t in _GRANTED if find_table(paths, t)]
    found_pg = [t for t in _PREGRANT if find_table(paths, t)]
    if len(found_pg) > len(found_g):
        missing = tuple(t for t in _PREGRANT if t not in found_pg)
        return Detection(NAME, missing, len(found_pg))
    return Detection(NAME, tuple(t for t in _GRANTED if t not in found_g), len(found_g))


def prepare(paths: Sequence[Path], options: Mapping[str, Any], workdir: Path) -> list[Prepared]:
    """The SQL reading PatentsView tables as patent records (see the module docstring)."""
    check_options(NAME, options, OPTIONS)
    types = text_list(NAME, options, "patent_types", OPTIONS["patent_types"])
    wanted = ", ".join("'" + t.lower().replace("'", "''") + "'" for t in types) or "''"
    out: list[Prepared] = []
    for grant, tables in ((True, _GRANTED), (False, _PREGRANT)):
        found = {t: find_table(paths, t) for t in tables}
        first = found[tables[0]]
        if first is None:
            continue
        missing = [t for t, p in found.items() if p is None]
        if missing:
            raise InputError(
                f"{first}: PatentsView also needs {', '.join(missing)} "
                "(.tsv, .tsv.zip or .tsv.gz) beside it; download them from patentsview.org"
            )
        # The inventor table is read once (staged), so it is unzipped as it is read; the
        # place table is read before (records checks each place first), and the patent
        # tables after: they are copied out while the inventor table is staged.
        have = {t: p for t, p in found.items() if p is not None}
        inventor, feed = streamed(first, workdir)
        files = {tables[0]: inventor, tables[1]: readable(have[tables[1]], workdir)}
        feeds = [feed]
        for table in tables[2:]:
            files[table], feed = deferred(have[table], workdir)
            feeds.append(feed)
        out.append(_prepare_one(grant, found, files, options, wanted, tuple(f for f in feeds if f)))
    if not out:
        raise InputError(
            f"{', '.join(map(str, paths))}: no g_inventor_disambiguated or "
            "pg_inventor_disambiguated table found; pass the folder holding the PatentsView tables"
        )
    return out


def _documents(grant: bool, files: Mapping[str, Path], wanted: str, *, grouped: bool) -> str:
    """The CTEs of the per-document tables (year, filter, in the grant table or not).

    PatentsView keys these tables by patent (``pgpub_id``): read as they are, each
    inventor row finds its one patent. ``grouped`` first groups each by its key, for
    tables in which a key repeats (records runs that variant when the first gives more
    rows than the inventor table has, :attr:`~innoclusters.sources.Prepared.fallback`).
    """
    if grant:
        app, pat = _tsv(files[_GRANTED[2]]), _tsv(files[_GRANTED[3]])
        if grouped:
            app = f"(SELECT patent_id, min(filing_date) AS filing_date FROM {app} GROUP BY ALL)"
            pat = (
                "(SELECT patent_id, any_value(patent_type) AS patent_type, "
                f"any_value(patent_date) AS patent_date, max(withdrawn) AS withdrawn FROM {pat} "
                "GROUP BY ALL)"
            )
        # One table per patent (application and grant joined once), so that each inventor
        # row makes one lookup, not two; the filters are decided once per patent.
        return (
            f"app AS (SELECT patent_id AS k, {year_text('filing_date')} AS filing_date "
            f"FROM {app}), "
            f"pat AS (SELECT patent_id AS k, {year_text('patent_date')} AS patent_date, "
            "CASE WHEN withdrawn IN ('1', 'TRUE', 'true', 'True') THEN 'withdrawn' "
            f"WHEN lower(patent_type) NOT IN ({wanted}) THEN 'patent type' END AS _filter "
            f"FROM {pat}), "
            "doc AS (SELECT coalesce(p.k, a.k) AS k, a.filing_date, p.patent_date, p._filter, "
            "p.k IS NOT NULL AS listed FROM pat AS p FULL JOIN app AS a ON a.k = p.k)"
        )
    app = _tsv(files[_PREGRANT[2]])
    if grouped:
        app = (
            "(SELECT pgpub_id, min(filing_date) AS filing_date, min(published_date) AS "
            f"published_date, any_value(patent_type) AS patent_type FROM {app} GROUP BY ALL)"
        )
    return (
        f"doc AS (SELECT pgpub_id AS k, {year_text('filing_date')} AS filing_date, "
        f"{year_text('published_date')} AS published_date, "
        f"CASE WHEN lower(patent_type) NOT IN ({wanted}) THEN 'patent type' END AS _filter, "
        f"true AS listed FROM {app})"
    )


def _prepare_one(
    grant: bool,
    found: Mapping[str, Path | None],
    files: Mapping[str, Path],
    options: Mapping[str, Any],
    wanted: str,
    feeds: tuple[tuple[Path, Path], ...],
) -> Prepared:
    year_from = str(options.get("year", OPTIONS["year"]))
    if grant:
        key, inv, loc, app, pat = "patent_id", *_GRANTED
        choices = {"filing": "d.filing_date", "grant": "d.patent_date"}
        columns = {
            "doc_id": f"{inv}.patent_id",
            "year": f"{app}.filing_date" if year_from == "filing" else f"{pat}.patent_date",
        }
    else:
        key, inv, loc, app = "pgpub_id", *_PREGRANT
        pat = app
        choices = {"filing": "d.filing_date", "publication": "d.published_date"}
        columns = {
            "doc_id": f"{inv}.pgpub_id",
            "year": f"{app}.filing_date" if year_from == "filing" else f"{app}.published_date",
        }
    if year_from not in choices:
        raise SettingsError(
            f"patentsview setting 'year' must be one of {', '.join(choices)}, got {year_from!r}"
        )
    columns.update(
        {
            "lat": f"{loc}.latitude",
            "lon": f"{loc}.longitude",
            "country": f"{loc}.disambig_country",
            "city": f"{loc}.disambig_city",
            "region": f"{loc}.disambig_state",
        }
    )
    problem = f"CASE WHEN d.listed IS NOT TRUE THEN '{key} not in {pat}' END"
    sql = f"""WITH inv AS (SELECT * FROM @STAGED), @DOCS
    SELECT i.k AS doc_id, {choices[year_from]} AS year, l.* EXCLUDE (_place),
      concat_ws('; ', {problem},
        CASE WHEN nullif(trim(i.location_id), '') IS NULL THEN 'no location_id'
             WHEN l._place IS NULL THEN 'location_id ''' || i.location_id
               || ''' not in {loc}' END) AS _problem,
      d._filter AS _filter, i._row AS _row
    FROM inv AS i LEFT JOIN @PLACES AS l ON l._place = i.location_id
      LEFT JOIN doc AS d ON d.k = i.k"""
    inventor = found[inv]
    assert inventor is not None
    # The same rows read for records' one-pass path (Prepared.documents): each patent's
    # year, filter and listing once, each inventor row's key, place and location problem.
    documents = f"""WITH @DOCS SELECT d.k AS _key, d.k AS doc_id, {choices[year_from]} AS year,
      d._filter AS _filter, d.listed AS _ok FROM doc AS d"""
    # A row's location_id equals its place's key, so whether it is blank is a test of the
    # place (made once per place, not per row).
    keyed = """WITH inv AS (SELECT * FROM @STAGED),
      pl AS (SELECT *, trim(_place) <> '' AS _named FROM @PLACES)
    SELECT i.k AS _key, i._row AS _row, l.* EXCLUDE (_place, _named),
      coalesce(l._named, false) AS _ok
    FROM inv AS i LEFT JOIN pl AS l ON l._place = i.location_id"""
    return Prepared(
        adapter=NAME,
        path=inventor,
        files=tuple(p for p in found.values() if p is not None),
        sql=sql.replace("@DOCS", _documents(grant, files, wanted, grouped=False)),
        fallback=sql.replace("@DOCS", _documents(grant, files, wanted, grouped=True)),
        staged=f"SELECT {key} AS k, location_id FROM {_tsv(files[inv])}",
        places=f"""SELECT location_id AS _place, any_value(latitude) AS lat,
          any_value(longitude) AS lon, any_value(disambig_country) AS country,
          any_value(disambig_city) AS city, any_value(disambig_state) AS region
          FROM {_tsv(files[loc])} GROUP BY ALL""",
        columns=columns,
        feeds=feeds,
        documents=documents.replace("@DOCS", _documents(grant, files, wanted, grouped=False)),
        documents_grouped=documents.replace(
            "@DOCS", _documents(grant, files, wanted, grouped=True)
        ),
        keyed=keyed,
        worded=sql.replace(
            "@DOCS",
            "doc AS (SELECT _key AS k, _year AS filing_date, _year AS patent_date, "
            "_year AS published_date, _filter, _listed AS listed FROM @DOCUMENTS)",
        ),
        filters={
            "withdrawn": "withdrawn grants",
            "patent type": f"patent types other than {wanted}",
        }
        if grant
        else {"patent type": f"patent types other than {wanted}"},
    )
