"""The upstream source adapters on Spark: the same files, the same rules, Spark's joins.

The DuckDB engine reads an adapter's files with the SQL of :mod:`innoclusters.sources`
(one query per row-defining file, joining the other upstream tables in DuckDB). Here the
same files are read by Spark, and split in two:

- **joins and groupings** (inventors to locations and patents, works to institutions,
  rounds to organisations) are Spark joins on the upstream keys, each keyed table grouped
  by its key first, as the adapters' ``fallback`` queries do (a key that upstream keeps
  unique gives the same rows either way);
- **the row rules** (years from dates, the filters, the adapters' own reject reasons,
  shares) are DuckDB SQL run by DuckDB on each Arrow batch inside the Spark tasks
  (:func:`duck_map`), built from the adapters' public pieces (:func:`~innoclusters.sources.
  base.year_text`, the settings' defaults ``OPTIONS``, the round-type table
  :func:`~innoclusters.sources.crunchbase.vc_round_types`) and with the same text, so
  that DuckDB parses dates, numbers and text exactly as in the DuckDB engine.

The output of each adapter is the contract of :mod:`innoclusters.sources.base` (the
records columns as text, ``_share``, ``_problem``, ``_filter``) plus ``_fid`` (the input
the row belongs to) and ``_pos`` (the row's position at the scan of its row-defining file,
from which the engine numbers the lines of rejects). ``tests/test_spark.py`` checks that
records, rejects and row counts equal the DuckDB engine's on every adapter's fixture files.

Zipped tables (PatentsView publishes ``.tsv.zip``) are unzipped once on the driver with
:func:`~innoclusters.sources.base.readable` (Spark does not read zip archives); gzipped
ones (``.tsv.gz``, OpenAlex's ``part_NNN.gz``) are read by Spark itself.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import functools
import gzip
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from innoclusters.sources import (
    Prepared,
    SourceSpec,
    crunchbase,
    openalex,
    patentsview,
    rasenfosse,
    regpat,
)
from innoclusters.sources.base import find_table, readable, sql_text, text_list, year_text

__all__ = [
    "ADAPTERS",
    "AdapterScan",
    "adapter_scans",
    "duck_map",
    "local_header",
    "sql_batches",
]

#: Adapters the Spark engine reads (the others are refused with a one-line error).
ADAPTERS: tuple[str, ...] = (
    patentsview.NAME,
    openalex.NAME,
    crunchbase.NAME,
    regpat.NAME,
    rasenfosse.NAME,
)


@dataclasses.dataclass(frozen=True)
class AdapterScan:
    """Rows of one adapter's row-defining file(s), ready for validation.

    ``frame`` has the adapter's output columns (``doc_id``, ``year``, ... as text;
    ``_share``, ``_problem``, ``_filter``) and ``_fid``, ``_pos``; ``first_line`` is the
    line of the first data row (2 below a header, 1 in JSON Lines).
    """

    frame: Any
    first_line: int


def _sql() -> Any:
    import pyspark.sql

    return pyspark.sql


def local_header(path: Path, sep: str, encoding: str = "utf-8") -> list[str]:
    """The header of a local CSV or TSV file, gzipped or not (a Spark job for one line is slow)."""
    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=enc, errors="replace", newline="") as fh:
        return next(csv.reader(fh, delimiter=sep), [])


def sql_batches(batches: Iterator[pa.RecordBatch], *, query: str) -> Iterator[pa.RecordBatch]:
    """Each Arrow batch through the DuckDB query ``query`` (over ``_batch``), in one
    single-threaded DuckDB connection: the body of a Spark ``mapInArrow`` task."""
    con = duckdb.connect(config={"threads": 1})
    for batch in batches:
        con.register("_batch", pa.Table.from_batches([batch]))
        yield from con.sql(query).to_arrow_table().to_batches()
        con.unregister("_batch")
    con.close()


def duck_map(frame: Any, query: str) -> Any:
    """``frame`` through the DuckDB query ``query`` (over ``_batch``), batch by batch.

    The query must be row-local (no aggregate, no order): it runs on each Arrow batch of
    each Spark task. The output's Spark schema is DuckDB's on an empty batch.
    """
    types = _sql().pandas.types
    empty = pa.Table.from_batches([], schema=types.to_arrow_schema(frame.schema))
    con = duckdb.connect()
    con.register("_batch", empty)
    schema = con.sql(query).to_arrow_table().schema
    con.close()
    return frame.mapInArrow(
        functools.partial(sql_batches, query=query), types.from_arrow_schema(schema)
    )


def _table(spark: Any, path: Path, sep: str, workdir: Path, *, lower: bool = False) -> Any:
    """An upstream CSV/TSV table, every column as text, as the adapters' ``read_csv`` reads it.

    Quoted fields may hold line breaks (so a file is one task); a row with the wrong
    number of fields stops the run, as it stops DuckDB's reading.
    """
    src = readable(path, workdir)
    header = local_header(src, sep)
    if lower:
        header = [h.strip().lower() for h in header]
    types = _sql().types
    schema = types.StructType([types.StructField(h, types.StringType()) for h in header])
    return (
        spark.read.schema(schema)
        .options(header=True, sep=sep, quote='"', escape='"', multiLine=True, mode="FAILFAST")
        .csv(str(src.absolute()))
    )


def _any(frame: Any, key: str, aggs: Mapping[str, Any]) -> Any:
    """``frame`` grouped by ``key`` (renamed ``k``): DuckDB's ``GROUP BY ALL`` of the adapters."""
    F = _sql().functions
    return frame.groupBy(F.col(key).alias("k")).agg(*[v.alias(n) for n, v in aggs.items()])


def _first(col: str) -> Any:
    """DuckDB's ``any_value``: a value that is not NULL, when there is one."""
    return _sql().functions.any_value(col, ignoreNulls=True)


def _numbered(frame: Any, fid: int) -> Any:
    """The scan with its input id and each row's position (taken on the scan itself)."""
    F = _sql().functions
    return frame.select(
        "*", F.lit(fid).alias("_fid"), F.monotonically_increasing_id().alias("_pos")
    )


def adapter_scans(
    spark: Any,
    spec: SourceSpec,
    prepared: Sequence[Prepared],
    ids: Sequence[int],
    workdir: Path,
) -> list[AdapterScan]:
    """The rows of one source read by its adapter, on Spark.

    Parameters
    ----------
    spark
        The Spark session.
    spec
        The source (its adapter, paths and settings).
    prepared
        What :func:`innoclusters.sources.prepare` planned for it (checked settings, the
        upstream files, one per row-defining file).
    ids
        The engine's input id of each of ``prepared``.
    workdir
        Where zipped tables are unzipped (it must live as long as the run's frames).
    """
    read = {
        patentsview.NAME: _patentsview,
        openalex.NAME: _openalex,
        crunchbase.NAME: _crunchbase,
        regpat.NAME: _regpat,
        rasenfosse.NAME: _rasenfosse,
    }[spec.adapter]
    return read(spark, spec, prepared, ids, workdir)


# --- PatentsView ------------------------------------------------------------------------


def _patentsview(
    spark: Any, spec: SourceSpec, prepared: Sequence[Prepared], ids: Sequence[int], workdir: Path
) -> list[AdapterScan]:
    """Inventors joined to their location and patent (:mod:`~innoclusters.sources.patentsview`)."""
    F = _sql().functions
    options = spec.options
    types = text_list(
        patentsview.NAME, options, "patent_types", patentsview.OPTIONS["patent_types"]
    )
    wanted = ", ".join(sql_text(t.lower()) for t in types) or "''"
    year_from = str(options.get("year", patentsview.OPTIONS["year"]))
    out = []
    for p, fid in zip(prepared, ids, strict=True):
        grant = find_table(p.files, "g_inventor_disambiguated") is not None
        pre = "g" if grant else "pg"
        key = "patent_id" if grant else "pgpub_id"
        loc_name = f"{pre}_location_disambiguated"
        app_name = "g_application" if grant else "pg_published_application"
        pat_name = "g_patent" if grant else app_name

        def table(name: str, files: Sequence[Path] = p.files) -> Any:
            path = find_table(files, name)
            assert path is not None  # sources.prepare found every table
            return _table(spark, path, "\t", workdir)

        inv = _numbered(table(f"{pre}_inventor_disambiguated"), fid).select(
            F.col(key).alias("_k"), "location_id", "_fid", "_pos"
        )
        loc = _any(
            table(loc_name),
            "location_id",
            {
                "lat": _first("latitude"),
                "lon": _first("longitude"),
                "country": _first("disambig_country"),
                "city": _first("disambig_city"),
                "region": _first("disambig_state"),
            },
        ).withColumnRenamed("k", "_place")
        if grant:
            app = _any(table(app_name), key, {"filing_date": F.min("filing_date")})
            pat = _any(
                table(pat_name),
                key,
                {
                    "patent_type": _first("patent_type"),
                    "patent_date": _first("patent_date"),
                    "withdrawn": F.max("withdrawn"),
                },
            )
            docs = pat.select("*", F.lit(True).alias("listed")).join(app, "k", "full")
            withdrawn = "WHEN withdrawn IN ('1', 'TRUE', 'true', 'True') THEN 'withdrawn'"
            dates = {"filing": "filing_date", "grant": "patent_date"}
        else:
            docs = _any(
                table(app_name),
                key,
                {
                    "filing_date": F.min("filing_date"),
                    "published_date": F.min("published_date"),
                    "patent_type": _first("patent_type"),
                },
            ).select("*", F.lit(True).alias("listed"))
            withdrawn = ""
            dates = {"filing": "filing_date", "publication": "published_date"}
        joined = inv.join(loc, inv["location_id"] == loc["_place"], "left").join(
            docs, inv["_k"] == docs["k"], "left"
        )
        rules = f"""SELECT _k AS doc_id, {year_text(dates[year_from])} AS year, lat, lon,
          country, city, region,
          concat_ws('; ', CASE WHEN listed IS NOT TRUE THEN '{key} not in {pat_name}' END,
            CASE WHEN nullif(trim(location_id), '') IS NULL THEN 'no location_id'
                 WHEN _place IS NULL THEN 'location_id ''' || location_id
                   || ''' not in {loc_name}' END) AS _problem,
          CASE {withdrawn} WHEN lower(patent_type) NOT IN ({wanted}) THEN 'patent type' END
            AS _filter, _fid, _pos
        FROM _batch"""
        out.append(AdapterScan(duck_map(joined.drop("k"), rules), p.first_line))
    return out


# --- OpenAlex ---------------------------------------------------------------------------


def _work_type() -> Any:
    t = _sql().types
    inst = t.StructType(
        [t.StructField(c, t.StringType()) for c in ("id", "ror", "display_name", "country_code")]
    )
    author = t.StructType([t.StructField("institutions", t.ArrayType(inst))])
    return t.StructType(
        [
            *[t.StructField(c, t.StringType()) for c in ("id", "publication_year", "type")],
            t.StructField("authorships", t.ArrayType(author)),
        ]
    )


def _file_ids(frame: Any, files: Mapping[Path, int]) -> Any:
    """Each row's input id, from the file Spark read it from."""
    F = _sql().functions
    spellings: dict[str, int] = {}
    for path, fid in files.items():
        uri = path.absolute().as_uri()
        for variant in (uri, uri.replace("file:///", "file:/", 1), urllib.parse.unquote(uri)):
            spellings[variant] = fid
            spellings[variant.replace("file:///", "file:/", 1)] = fid
    index = F.create_map(*[x for f, i in spellings.items() for x in (F.lit(f), F.lit(i))])
    return index[F.col("_metadata.file_path")]


def _institutions(spark: Any, spec: SourceSpec, workdir: Path) -> tuple[Any, str]:
    """The institutions' places keyed as the works name them, and where they come from."""
    F = _sql().functions
    t = _sql().types
    ror = str(spec.options.get("ror", openalex.OPTIONS["ror"]))
    if ror:
        path = readable(Path(ror), workdir)
        geo = t.StructType(
            [
                t.StructField("lat", t.DoubleType()),
                t.StructField("lng", t.DoubleType()),
                t.StructField("name", t.StringType()),
                t.StructField("country_code", t.StringType()),
            ]
        )
        address = t.StructType(
            [
                t.StructField("lat", t.DoubleType()),
                t.StructField("lng", t.DoubleType()),
                t.StructField("city", t.StringType()),
            ]
        )
        schema = t.StructType(
            [
                t.StructField("id", t.StringType()),
                t.StructField("addresses", t.ArrayType(address)),
                t.StructField(
                    "locations", t.ArrayType(t.StructType([t.StructField("geonames_details", geo)]))
                ),
                t.StructField(
                    "country", t.StructType([t.StructField("country_code", t.StringType())])
                ),
            ]
        )
        raw = spark.read.schema(schema).options(multiLine=True, mode="FAILFAST").json(str(path))
        flat = duck_map(
            raw,
            """SELECT id AS k,
              coalesce(locations[1].geonames_details.lat, addresses[1].lat) AS lat,
              coalesce(locations[1].geonames_details.lng, addresses[1].lng) AS lon,
              coalesce(locations[1].geonames_details.name, addresses[1].city) AS city,
              CAST(NULL AS VARCHAR) AS region,
              coalesce(locations[1].geonames_details.country_code, country.country_code)
                AS country FROM _batch""",
        )
        source = f"ROR {Path(ror).name}"
    else:
        parts = openalex.snapshot_parts(spec.paths, "institutions")
        if not parts:
            return None, ""
        geo = t.StructType(
            [
                *[t.StructField(c, t.StringType()) for c in ("city", "region", "country_code")],
                t.StructField("latitude", t.DoubleType()),
                t.StructField("longitude", t.DoubleType()),
            ]
        )
        schema = t.StructType(
            [
                *[t.StructField(c, t.StringType()) for c in ("id", "ror", "country_code")],
                t.StructField("geo", geo),
            ]
        )
        raw = (
            spark.read.schema(schema)
            .option("mode", "FAILFAST")
            .json([str(p.absolute()) for p in parts])
        )
        flat = raw.select(
            F.col("id").alias("k"),
            F.col("geo.latitude").alias("lat"),
            F.col("geo.longitude").alias("lon"),
            F.col("geo.city").alias("city"),
            F.col("geo.region").alias("region"),
            F.coalesce("geo.country_code", "country_code").alias("country"),
        )
        source = "institutions snapshot"
    places = (
        flat.filter(F.col("k").isNotNull())
        .groupBy("k")
        .agg(*[_first(c).alias(c) for c in ("lat", "lon", "city", "region", "country")])
    )
    return places, source


def _openalex(
    spark: Any, spec: SourceSpec, prepared: Sequence[Prepared], ids: Sequence[int], workdir: Path
) -> list[AdapterScan]:
    """Works' author-institution pairs joined to the institutions' places."""
    F = _sql().functions
    t = _sql().types
    types = text_list(openalex.NAME, spec.options, "types", openalex.OPTIONS["types"])
    wanted = ", ".join(sql_text(t.lower()) for t in types) or "''"
    places, source = _institutions(spark, spec, workdir)
    key = "inst_ror" if source.startswith("ROR") else "inst_id"
    by_file = {p.path: fid for p, fid in zip(prepared, ids, strict=True)}
    parts = [p.path for p in prepared if p.first_line == 1 and p.path.suffix.lower() == ".gz"]
    pages = [p.path for p in prepared if p.path not in parts]
    works = []
    if parts:
        raw = (
            spark.read.schema(_work_type())
            .option("mode", "FAILFAST")
            .json([str(p.absolute()) for p in parts])
        )
        works.append(
            raw.select(
                "*",
                _file_ids(raw, {p: by_file[p] for p in parts}).cast("int").alias("_fid"),
                F.monotonically_increasing_id().alias("_pos"),
            )
        )
    for page in pages:
        raw = (
            spark.read.schema(t.StructType([t.StructField("results", t.ArrayType(_work_type()))]))
            .options(multiLine=True, mode="FAILFAST")
            .json(str(page.absolute()))
        )
        works.append(
            raw.select(F.posexplode("results").alias("_pos", "w")).select(
                "w.*", F.lit(by_file[page]).alias("_fid"), F.col("_pos").cast("bigint")
            )
        )
    scans = []
    for frame in works:
        # The adapter's unnesting: one row per author and institution, one row for an
        # author without institutions, one for a work without authors.
        pairs = duck_map(
            frame,
            """WITH a AS (SELECT id, publication_year, type, _fid, _pos,
                len(authorships) AS n_auth,
                unnest(CASE WHEN len(authorships) > 0 THEN authorships ELSE [NULL] END) AS au
              FROM _batch)
            SELECT id, publication_year, type, _fid, _pos, n_auth,
              len(au.institutions) AS n_inst, i.id AS inst_id, i.ror AS inst_ror,
              i.display_name AS inst_name, i.country_code AS inst_country
            FROM (SELECT *, unnest(CASE WHEN len(au.institutions) > 0 THEN au.institutions
              ELSE [NULL] END) AS i FROM a)""",
        )
        if places is not None:
            pairs = pairs.join(
                places.withColumnRenamed("k", "_pk"), F.col(key) == F.col("_pk"), "left"
            )
        else:
            pairs = pairs.select(
                "*",
                *[
                    F.lit(None).cast(ty).alias(c)
                    for c, ty in (
                        ("_pk", "string"),
                        ("lat", "double"),
                        ("lon", "double"),
                        ("city", "string"),
                        ("region", "string"),
                        ("country", "string"),
                    )
                ],
            )
        where = f" in the {source}" if source else ""
        rules = f"""SELECT replace(id, 'https://openalex.org/', '') AS doc_id,
          publication_year AS year, CAST(lat AS VARCHAR) AS lat, CAST(lon AS VARCHAR) AS lon,
          coalesce(inst_country, country) AS country, city, region, inst_name AS org,
          CASE WHEN n_auth > 0 AND n_inst > 0 THEN 1.0 / (n_auth * n_inst) ELSE 1.0 END
            AS _share,
          CASE WHEN coalesce(n_auth, 0) = 0 THEN 'work without authors'
               WHEN coalesce(n_inst, 0) = 0 THEN 'author without institution'
               WHEN _pk IS NULL AND city IS NULL THEN 'institution '
                 || replace(coalesce(inst_id, inst_ror, '?'), 'https://openalex.org/', '')
                 || ' has no coordinates{where}' END AS _problem,
          CASE WHEN lower(type) NOT IN ({wanted}) OR type IS NULL THEN 'type' END AS _filter,
          _fid, _pos
        FROM _batch"""
        scans.append(AdapterScan(duck_map(pairs, rules), 1))
    return scans


# --- Crunchbase -------------------------------------------------------------------------


def _crunchbase(
    spark: Any, spec: SourceSpec, prepared: Sequence[Prepared], ids: Sequence[int], workdir: Path
) -> list[AdapterScan]:
    """Rounds joined to the funded organisation (bulk) or company (open snapshot)."""
    F = _sql().functions
    (p,) = prepared
    (fid,) = ids
    rounds = _numbered(_table(spark, p.path, ",", workdir), fid)
    if p.path.name.lower().startswith("funding_rounds"):
        orgs = find_table(p.files[1:], "organizations")
        types = ", ".join(sql_text(t) for t in crunchbase.vc_round_types("bulk"))
        if orgs is not None:
            org = _any(
                _table(spark, orgs, ",", workdir),
                "uuid",
                {
                    "o_name": _first("name"),
                    "o_city": _first("city"),
                    "o_region": _first("region"),
                    "o_country": _first("country_code"),
                },
            )
            rounds = rounds.join(org, rounds["org_uuid"] == org["k"], "left").drop("k")
        else:
            rounds = rounds.select(
                "*",
                *[
                    F.lit(None).cast("string").alias(f"o_{c}")
                    for c in ("name", "city", "region", "country")
                ],
            )
        rules = f"""SELECT uuid AS doc_id, announced_on AS year,
          coalesce(o_city, city) AS city, coalesce(o_region, region) AS region,
          coalesce(o_country, country_code) AS country, coalesce(o_name, org_name) AS org,
          CASE WHEN lower(trim(investment_type)) NOT IN ({types})
               OR investment_type IS NULL THEN 'not a VC round' END AS _filter, _fid, _pos
        FROM _batch"""
        return [AdapterScan(duck_map(rounds, rules), p.first_line)]
    companies = find_table(p.files[1:], "companies")
    types = ", ".join(sql_text(t) for t in crunchbase.vc_round_types("open"))
    if p.path.name.lower().startswith("investments"):
        # Investments list a round once per investor: the first row of a round is the deal.
        window = _sql().Window.partitionBy("funding_round_permalink").orderBy("_pos")
        rounds = rounds.select("*", F.row_number().over(window).alias("_nth"))
    else:
        rounds = rounds.select("*", F.lit(1).alias("_nth"))
    if companies is not None:
        comp = _any(
            _table(spark, companies, ",", workdir),
            "permalink",
            {"c_city": _first("city"), "c_country": _first("country_code")},
        )
        rounds = rounds.join(comp, rounds["company_permalink"] == comp["k"], "left").drop("k")
    else:
        rounds = rounds.select(
            "*", *[F.lit(None).cast("string").alias(c) for c in ("c_city", "c_country")]
        )
    rules = f"""SELECT funding_round_permalink AS doc_id, funded_at AS year,
      coalesce(nullif(company_city, ''), c_city) AS city,
      CASE WHEN upper(coalesce(nullif(company_country_code, ''), c_country)) IN ('USA', 'CAN')
        THEN nullif(company_state_code, '') END AS region,
      coalesce(nullif(company_country_code, ''), c_country) AS country,
      company_name AS org,
      CASE WHEN _nth > 1 THEN 'another investor of the round'
           WHEN lower(trim(funding_round_type)) NOT IN ({types})
             OR funding_round_type IS NULL THEN 'not a VC round' END AS _filter, _fid, _pos
    FROM _batch"""
    return [AdapterScan(duck_map(rounds, rules), p.first_line)]


# --- REGPAT and the worldwide geocoded patents ------------------------------------------


def _regpat(
    spark: Any, spec: SourceSpec, prepared: Sequence[Prepared], ids: Sequence[int], workdir: Path
) -> list[AdapterScan]:
    """PCT inventors joined to the earliest year of their application."""
    F = _sql().functions
    (p,) = prepared
    (fid,) = ids
    year_col = (
        "app_year" if spec.options.get("year", regpat.OPTIONS["year"]) == "filing" else "prio_year"
    )
    inv = _numbered(_table(spark, p.path, "|", workdir, lower=True), fid)
    ipc_path = p.files[1]
    key = "pct_nbr" if "pct_nbr" in inv.columns else "appln_id"
    share = "inv_share" if "inv_share" in inv.columns else "'1'"
    years = duck_map(
        _table(spark, ipc_path, "|", workdir, lower=True).select(key, year_col),
        f"SELECT {key} AS k, TRY_CAST({year_col} AS INTEGER) AS y FROM _batch",
    )
    yr = years.groupBy("k").agg(F.min("y").alias("_year"))
    joined = inv.join(yr, inv[key] == yr["k"], "left")
    rules = f"""SELECT {key} AS doc_id, CAST(_year AS VARCHAR) AS year, city,
      ctry_code AS country, {share} AS _share,
      CASE WHEN k IS NULL THEN '{key} not in {ipc_path.name}' END AS _problem,
      CAST(NULL AS VARCHAR) AS _filter, _fid, _pos
    FROM _batch"""
    return [AdapterScan(duck_map(joined, rules), p.first_line)]


def _rasenfosse(
    spark: Any, spec: SourceSpec, prepared: Sequence[Prepared], ids: Sequence[int], workdir: Path
) -> list[AdapterScan]:
    """One record per address row; no join."""
    (p,) = prepared
    (fid,) = ids
    rows = _numbered(_table(spark, p.path, ",", workdir), fid)
    lowered = {c.strip().lower() for c in rows.columns}
    city = "city" if "city" in lowered else "CAST(NULL AS VARCHAR)"
    rules = f"""SELECT appln_id AS doc_id, filing_date AS year, lat, lng AS lon,
      ctry_code AS country, {city} AS city, CAST(NULL AS VARCHAR) AS _filter, _fid, _pos
    FROM _batch"""
    return [AdapterScan(duck_map(rows, rules), p.first_line)]
