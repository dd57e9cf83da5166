"""Crunchbase: venture-capital deals at the funded company's location.

Two layouts, as downloaded (CSV with a header, plain or gzipped):

- **today's bulk export** (https://data.crunchbase.com/docs/bulk-export, licence needed):
  ``funding_rounds.csv`` [``uuid``, ``investment_type``, ``announced_on``, ``org_uuid``,
  ``city``, ``region``, ``country_code``] is the row-defining table, one row per round;
  ``organizations.csv`` [``uuid``, ``name``, ``city``, ``region``, ``country_code``], when
  present, gives the funded organisation's place (the round's own place columns are used
  for rounds whose organisation it does not list). ``country_code`` is ISO 3166 alpha-3.
- **the old open snapshot** (the 2014 "Crunchbase open data" export): ``rounds.csv``
  [``funding_round_permalink``, ``funding_round_type``, ``funded_at``, ``company_permalink``,
  ``company_name``, ``company_city``, ``company_state_code``, ``company_country_code``], one
  row per round (``company_region`` is Crunchbase's market area, ``SF Bay Area``, not an
  administrative region, so the US and Canadian state code is used instead); or, without
  it, ``investments.csv`` (the same round and company columns, one row per investor of a
  round: the first row of each round is the deal, the others are
  left out with the filter ``another investor of the round``). ``companies.csv``
  [``permalink``, ``city``, ``country_code``] fills a place the round lacks.

One deal, one location: each round counts 1 at the funded company (no fractional split),
``doc_id`` is the round's ``uuid`` (``funding_round_permalink``), the year is that of
``announced_on`` (``funded_at``). Rounds whose type is not venture capital by
``data/crunchbase_round_types.csv`` are left out with the filter ``not a VC round``. Places
have no coordinates upstream: they are geocoded offline from city, region and country.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError
from innoclusters.sources.base import (
    Detection,
    Prepared,
    check_options,
    find_table,
    readable,
    sql_file,
    sql_text,
)

__all__ = ["COLUMNS", "NAME", "OPTIONS", "detect", "prepare", "vc_round_types"]

NAME = "crunchbase"

#: Columns of the row-defining table of the bulk export, for detection messages.
COLUMNS: tuple[str, ...] = ("uuid", "investment_type", "announced_on", "org_uuid")

#: Settings of ``[sources.<metric>]`` this adapter knows (none yet).
OPTIONS: Mapping[str, Any] = {}


def vc_round_types(export: str) -> list[str]:
    """Round types that count as VC deals in the ``bulk`` or ``open`` export."""
    text = resources.files("innoclusters").joinpath("data/crunchbase_round_types.csv").read_text()
    return [
        r["round_type"]
        for r in csv.DictReader(io.StringIO(text))
        if r["export"] == export and r["vc"] == "true"
    ]


def _csv(path: Path) -> str:
    return f"read_csv({sql_file(path)}, header=true, all_varchar=true, quote='\"', escape='\"')"


def detect(paths: Sequence[Path]) -> Detection:
    """Whether ``paths`` hold ``funding_rounds.csv`` (bulk) or ``rounds.csv`` (open)."""
    if find_table(paths, "funding_rounds"):
        return Detection(NAME, (), 2 if find_table(paths, "organizations") else 1)
    if find_table(paths, "rounds") or find_table(paths, "investments"):
        return Detection(NAME, (), 2 if find_table(paths, "companies") else 1)
    return Detection(NAME, ("funding_rounds.csv",), 0)


def prepare(paths: Sequence[Path], options: Mapping[str, Any], workdir: Path) -> list[Prepared]:
    """The SQL reading Crunchbase files as VC deal records (see the module docstring)."""
    check_options(NAME, options, {})
    rounds = find_table(paths, "funding_rounds")
    if rounds is not None:
        return [_bulk(rounds, find_table(paths, "organizations"), workdir)]
    rounds = find_table(paths, "rounds")
    investments = find_table(paths, "investments")
    main = rounds or investments
    if main is None:
        raise InputError(
            f"{', '.join(map(str, paths))}: no funding_rounds.csv (bulk export) or rounds.csv / "
            "investments.csv (open snapshot) found; pass the folder holding them"
        )
    return [_open(main, rounds is None, find_table(paths, "companies"), workdir)]


def _types(export: str) -> str:
    return ", ".join(sql_text(t) for t in vc_round_types(export))


def _bulk(rounds: Path, orgs: Path | None, workdir: Path) -> Prepared:
    r = readable(rounds, workdir)
    org_cte = (
        f"org AS (SELECT uuid AS k, any_value(name) AS name, any_value(city) AS city, "
        f"any_value(region) AS region, any_value(country_code) AS country "
        f"FROM {_csv(readable(orgs, workdir))} GROUP BY ALL)"
        if orgs is not None
        else "org AS (SELECT NULL AS k, NULL AS name, NULL AS city, NULL AS region, "
        "NULL AS country WHERE false)"
    )
    sql = f"""WITH r AS (SELECT * FROM @STAGED),
      {org_cte}
    SELECT r.uuid AS doc_id, r.announced_on AS year,
      coalesce(o.city, r.city) AS city, coalesce(o.region, r.region) AS region,
      coalesce(o.country, r.country_code) AS country, coalesce(o.name, r.org_name) AS org,
      CASE WHEN lower(trim(r.investment_type)) NOT IN ({_types("bulk")})
           OR r.investment_type IS NULL THEN 'not a VC round' END AS _filter,
      r._row AS _row
    FROM r LEFT JOIN org AS o ON o.k = r.org_uuid"""
    src = "organizations" if orgs is not None else "funding_rounds"
    return Prepared(
        adapter=NAME,
        path=rounds,
        files=(rounds,) + ((orgs,) if orgs is not None else ()),
        sql=sql,
        staged=f"SELECT * FROM {_csv(r)}",
        columns={
            "doc_id": "funding_rounds.uuid",
            "year": "funding_rounds.announced_on",
            "city": f"{src}.city",
            "region": f"{src}.region",
            "country": f"{src}.country_code",
            "org": f"{src}.name",
        },
        filters={"not a VC round": "investment_type not VC in data/crunchbase_round_types.csv"},
    )


def _open(main: Path, per_investor: bool, companies: Path | None, workdir: Path) -> Prepared:
    m = readable(main, workdir)
    comp_cte = (
        f"comp AS (SELECT permalink AS k, any_value(city) AS city, "
        f"any_value(country_code) AS country FROM {_csv(readable(companies, workdir))} "
        "GROUP BY ALL)"
        if companies is not None
        else "comp AS (SELECT NULL AS k, NULL AS city, NULL AS region, NULL AS country WHERE false)"
    )
    # Investments list a round once per investor: the first row of a round is the deal.
    first = (
        "row_number() OVER (PARTITION BY funding_round_permalink ORDER BY _row) AS _nth"
        if per_investor
        else "1 AS _nth"
    )
    sql = f"""WITH raw AS (SELECT * FROM @STAGED),
      r AS (SELECT *, {first} FROM raw),
      {comp_cte}
    SELECT r.funding_round_permalink AS doc_id, r.funded_at AS year,
      coalesce(nullif(r.company_city, ''), c.city) AS city,
      CASE WHEN upper(coalesce(nullif(r.company_country_code, ''), c.country)) IN ('USA', 'CAN')
        THEN nullif(r.company_state_code, '') END AS region,
      coalesce(nullif(r.company_country_code, ''), c.country) AS country,
      r.company_name AS org,
      CASE WHEN r._nth > 1 THEN 'another investor of the round'
           WHEN lower(trim(r.funding_round_type)) NOT IN ({_types("open")})
             OR r.funding_round_type IS NULL THEN 'not a VC round' END AS _filter,
      r._row AS _row
    FROM r LEFT JOIN comp AS c ON c.k = r.company_permalink"""
    name = main.name.split(".")[0]
    filters = {"not a VC round": "funding_round_type not VC in data/crunchbase_round_types.csv"}
    if per_investor:
        filters["another investor of the round"] = "investments.csv lists a round per investor"
    return Prepared(
        adapter=NAME,
        path=main,
        files=(main,) + ((companies,) if companies is not None else ()),
        sql=sql,
        staged=f"SELECT * FROM {_csv(m)}",
        columns={
            "doc_id": f"{name}.funding_round_permalink",
            "year": f"{name}.funded_at",
            "city": f"{name}.company_city",
            "region": f"{name}.company_state_code (USA and CAN)",
            "country": f"{name}.company_country_code",
            "org": f"{name}.company_name",
        },
        filters=filters,
    )
