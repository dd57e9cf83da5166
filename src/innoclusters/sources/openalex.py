"""OpenAlex: author affiliations of scholarly works, placed at their institutions.

Upstream (CC0): the works snapshot, ``openalex-snapshot/data/works/updated_date=YYYY-MM-DD/
part_NNN.gz`` (gzipped JSON Lines, one work a line; https://docs.openalex.org/download-all-data),
or pages of the API (``https://api.openalex.org/works?...``, saved as JSON objects whose
``results`` list holds the works). Fields used: ``id``, ``publication_year``, ``type`` and
``authorships[].institutions[]`` (``id``, ``ror``, ``display_name``, ``country_code``).

Works carry no coordinates; the institutions do, in either

- the OpenAlex institutions snapshot (``data/institutions/updated_date=*/part_*.gz``,
  ``geo.latitude``, ``geo.longitude``, ``geo.city``, ``geo.region``), found beside the
  works in the same snapshot, or
- a ROR data dump (``ror = "path/to/v1.xx-...-ror-data.json"`` in ``[sources.publications]``;
  schema v1 ``addresses[].lat/lng`` or v2 ``locations[].geonames_details.lat/lng``), joined
  on the institution's ROR id.

An institution found in neither keeps its country and is rejected (``institution I123 has no
coordinates``) unless it has a city to geocode offline.

Counting (the Nature Index "fractional count"): each work counts 1, shared equally among its
authors, and each author's share equally among that author's institutions; an author
without an institution, or an institution that cannot be placed, is rejected and the work's
1 is shared among the addresses that could be placed. Rows are a work's author-institution
pairs (one row for an author without institutions, one for a work without authors); the
line of a reject is the work's line in its part file (its position in ``results`` for an
API page). Filter: ``type`` (works whose ``type`` is not in ``types``, by default
``["article"]``; OpenAlex's ``review``, ``preprint``, ``book-chapter`` ... are left out).
``doc_id`` is the work id without its ``https://openalex.org/`` prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError
from innoclusters.sources.base import (
    Detection,
    Prepared,
    check_options,
    readable,
    sql_file,
    sql_text,
    text_list,
)

__all__ = ["COLUMNS", "NAME", "OPTIONS", "detect", "prepare", "snapshot_parts"]

NAME = "openalex"

#: Fields of a work used, for detection messages.
COLUMNS: tuple[str, ...] = ("id", "publication_year", "type", "authorships")

#: Settings of ``[sources.<metric>]`` this adapter knows, with their defaults.
OPTIONS: Mapping[str, Any] = {"types": ["article"], "ror": ""}

_INSTITUTION = "STRUCT(id VARCHAR, ror VARCHAR, display_name VARCHAR, country_code VARCHAR)"
_WORK = (
    "id VARCHAR, publication_year VARCHAR, type VARCHAR, "
    f"authorships STRUCT(institutions {_INSTITUTION}[])[]"
)
_WORK_COLUMNS = (
    "{'id': 'VARCHAR', 'publication_year': 'VARCHAR', 'type': 'VARCHAR', "
    f"'authorships': 'STRUCT(institutions {_INSTITUTION}[])[]'}}"
)


def snapshot_parts(paths: Sequence[Path], entity: str) -> list[Path]:
    """Part files of a snapshot entity (``works``, ``institutions``) under ``paths``: the
    ``*.gz`` of its ``updated_date=*`` folders, or such files given one by one."""
    found: list[Path] = []
    for p in paths:
        if (
            p.is_file()
            and p.parent.name.startswith("updated_date=")
            and (p.parent.parent.name == entity)
        ):
            found.append(p)
        elif p.is_dir():
            if p.name.startswith("updated_date=") and p.parent.name == entity:
                found += sorted(p.glob("*.gz"))
            else:
                found += sorted(p.glob(f"**/{entity}/updated_date=*/*.gz"))
    return sorted(set(found))


def _api_pages(paths: Sequence[Path]) -> list[Path]:
    """JSON files that look like saved API result pages (an object with ``results``)."""
    files: list[Path] = []
    for p in paths:
        for f in sorted(p.glob("*.json")) if p.is_dir() else [p]:
            if f.is_file() and f.suffix.lower() == ".json":
                with f.open("rb") as fh:
                    head = fh.read(4096).lstrip()
                if (head.startswith(b"{") and b'"results"' in head) or b'"meta"' in head[:200]:
                    files.append(f)
    return files


def detect(paths: Sequence[Path]) -> Detection:
    """Whether ``paths`` hold OpenAlex works snapshot parts or API result pages."""
    n = len(snapshot_parts(paths, "works")) + len(_api_pages(paths))
    return Detection(NAME, () if n else ("data/works/updated_date=*/part_*.gz",), n)


def prepare(paths: Sequence[Path], options: Mapping[str, Any], workdir: Path) -> list[Prepared]:
    """The SQL reading OpenAlex works as publication records (see the module docstring)."""
    check_options(NAME, options, OPTIONS)
    types = text_list(NAME, options, "types", OPTIONS["types"])
    parts = snapshot_parts(paths, "works")
    pages = _api_pages(paths)
    if not parts and not pages:
        raise InputError(
            f"{', '.join(map(str, paths))}: no OpenAlex works found (snapshot parts "
            "data/works/updated_date=*/part_*.gz, or API pages *.json with 'results')"
        )
    inst_sql, inst_source = _institutions(paths, str(options.get("ror", "")), workdir)
    wanted = ", ".join(sql_text(t.lower()) for t in types) or "''"
    out = []
    for f in parts:
        scan = (
            f"SELECT * FROM read_json({sql_file(f)}, format='newline_delimited', "
            f"columns={_WORK_COLUMNS})"
        )
        out.append(_prepared(f, scan, inst_sql, inst_source, wanted, (f,)))
    for f in pages:
        fields = ", ".join(
            f"struct_extract(wk, '{c}') AS {c}"
            for c in ("id", "publication_year", "type", "authorships")
        )
        scan = (
            f"SELECT {fields} FROM (SELECT unnest(results) AS wk FROM read_json("
            f"{sql_file(f)}, format='auto', columns={{'results': 'STRUCT({_WORK})[]'}}))"
        )
        out.append(_prepared(f, scan, inst_sql, inst_source, wanted, (f,)))
    return out


def _institutions(paths: Sequence[Path], ror: str, workdir: Path) -> tuple[str, str]:
    """SQL of the institutions' places (``ror``, ``oa``, ``lat``, ``lon``, ``city``,
    ``region``, ``country``) and where they come from."""
    if ror:
        path = Path(ror)
        if not path.is_file():
            raise InputError(f"{path}: no such ROR data dump (setting 'ror'); check the path")
        src = readable(path, workdir)
        cols = (
            "{'id': 'VARCHAR', 'addresses': 'STRUCT(lat DOUBLE, lng DOUBLE, city VARCHAR)[]', "
            "'locations': 'STRUCT(geonames_details STRUCT(lat DOUBLE, lng DOUBLE, name VARCHAR, "
            "country_code VARCHAR))[]', 'country': 'STRUCT(country_code VARCHAR)'}"
        )
        sql = f"""SELECT id AS ror, NULL AS oa,
            coalesce(locations[1].geonames_details.lat, addresses[1].lat) AS lat,
            coalesce(locations[1].geonames_details.lng, addresses[1].lng) AS lon,
            coalesce(locations[1].geonames_details.name, addresses[1].city) AS city,
            NULL AS region,
            coalesce(locations[1].geonames_details.country_code, country.country_code) AS country
          FROM read_json({sql_file(src)}, format='array', columns={cols})"""
        return sql, f"ROR {path.name}"
    parts = snapshot_parts(paths, "institutions")
    if not parts:
        return (
            "SELECT NULL AS ror, NULL AS oa, NULL AS lat, NULL AS lon, NULL AS city, "
            "NULL AS region, NULL AS country WHERE false",
            "",
        )
    files = "[" + ", ".join(sql_file(p) for p in parts) + "]"
    cols = (
        "{'id': 'VARCHAR', 'ror': 'VARCHAR', 'country_code': 'VARCHAR', 'geo': "
        "'STRUCT(city VARCHAR, region VARCHAR, country_code VARCHAR, latitude DOUBLE, "
        "longitude DOUBLE)'}"
    )
    sql = f"""SELECT ror, id AS oa, geo.latitude AS lat, geo.longitude AS lon,
        geo.city AS city, geo.region AS region, coalesce(geo.country_code, country_code) AS country
      FROM read_json({files}, format='newline_delimited', columns={cols})"""
    return sql, "institutions snapshot"


def _prepared(
    path: Path, scan: str, inst_sql: str, inst_source: str, wanted: str, files: tuple[Path, ...]
) -> Prepared:
    key = "ror" if inst_source.startswith("ROR") else "oa"
    sql = f"""WITH w AS (SELECT * FROM @STAGED),
      a AS (SELECT id, publication_year, type, _row, len(authorships) AS n_auth,
        unnest(CASE WHEN len(authorships) > 0 THEN authorships ELSE [NULL] END) AS au
        FROM w),
      r AS (SELECT id, publication_year, type, _row, n_auth, len(au.institutions) AS n_inst,
        unnest(CASE WHEN len(au.institutions) > 0 THEN au.institutions ELSE [NULL] END) AS inst
        FROM a),
      places AS (SELECT {key} AS k, any_value(lat) AS lat, any_value(lon) AS lon,
        any_value(city) AS city, any_value(region) AS region, any_value(country) AS country
        FROM ({inst_sql}) WHERE {key} IS NOT NULL GROUP BY ALL)
    SELECT replace(r.id, 'https://openalex.org/', '') AS doc_id, r.publication_year AS year,
      CAST(p.lat AS VARCHAR) AS lat, CAST(p.lon AS VARCHAR) AS lon,
      coalesce(r.inst.country_code, p.country) AS country, p.city AS city,
      p.region AS region, r.inst.display_name AS org,
      CASE WHEN r.n_auth > 0 AND r.n_inst > 0 THEN 1.0 / (r.n_auth * r.n_inst) ELSE 1.0 END
        AS _share,
      CASE WHEN coalesce(r.n_auth, 0) = 0 THEN 'work without authors'
           WHEN coalesce(r.n_inst, 0) = 0 THEN 'author without institution'
           WHEN p.k IS NULL AND p.city IS NULL THEN 'institution '
             || replace(coalesce(r.inst.id, r.inst.ror, '?'), 'https://openalex.org/', '')
             || ' has no coordinates{" in the " + inst_source if inst_source else ""}' END
        AS _problem,
      CASE WHEN lower(r.type) NOT IN ({wanted}) OR r.type IS NULL THEN 'type' END AS _filter,
      r._row AS _row
    FROM r LEFT JOIN places AS p ON p.k = r.inst.{"ror" if key == "ror" else "id"}"""
    return Prepared(
        adapter=NAME,
        path=path,
        files=files,
        sql=sql,
        staged=scan,
        first_line=1,
        columns={
            "doc_id": "works.id",
            "year": "works.publication_year",
            "lat": f"{inst_source or 'institutions'} latitude",
            "lon": f"{inst_source or 'institutions'} longitude",
            "country": "works.authorships.institutions.country_code",
            "org": "works.authorships.institutions.display_name",
            "weight": "1 / authors / institutions of the author",
        },
        filters={"type": f"works whose type is not {wanted}"},
    )
