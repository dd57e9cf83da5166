"""Offline geocoding: ``(city, region, country)`` to coordinates, and coordinates to a country.

- :func:`geocode_places` gives coordinates to ``(city, region, country)`` triples. Matching is
  case-, accent- and punctuation-insensitive, uses GeoNames' alternate names
  (``Frankfurt``, ``NYC``, ``München``) and a few spelling rules (``St.`` for ``Saint``,
  ``Washington, D.C.``); an ambiguous name is resolved by region, then by population. A place
  that is not found is rejected with ``place not found: <city>, <region>, <country>``; nothing
  is placed by guess.
- :func:`~innoclusters.places.borders.country_at` (country outlines) gives a country to
  coordinates.
- :func:`geocode_file` does both for a whole file (``innoclusters geocode``).

docs/places.md states every rule in full.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from innoclusters._io import atomic_path, format_of, sql_path
from innoclusters.countries import to_alpha2
from innoclusters.errors import InputError
from innoclusters.places import gazetteer
from innoclusters.places.borders import country_at

__all__ = [
    "OWN_NAME_PREFERENCE",
    "country_at",
    "geocode_file",
    "geocode_places",
]

#: A place matched on its own name beats one matched on an alternate name unless the latter
#: is more than this many times as populous (``Manhattan`` is the borough, not New York City,
#: which lists ``Manhattan`` among its alternate names; ``Milano`` is still Milan).
OWN_NAME_PREFERENCE = 10.0

# =========================================================================== countries


def _country_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO alpha-2 of each country value (None when null or unknown) and an 'unknown' mask.

    Codes, names and aliases are read by :func:`innoclusters.countries.to_alpha2`, the one
    country reader of the package (records use it too).
    """
    codes, ok = to_alpha2(values)
    text = values.astype("string")
    given = text.notna().to_numpy() & (text.fillna("").str.strip().str.len() > 0).to_numpy()
    return codes, given & ~ok


# =========================================================================== geocoding

_STREET_WORDS = (
    ("st", "saint"),
    ("ste", "sainte"),
    ("saint", "st"),
    ("sainte", "ste"),
    ("sankt", "st"),
    ("st", "sankt"),
    ("ft", "fort"),
    ("mt", "mount"),
    ("pt", "port"),
)


def _variants(key: str) -> list[tuple[str, str | None]]:
    """Other spellings of a normalised city key, each with an implied region (or None).

    Tried only when the key itself matches nothing. The rules are equivalences that people
    write both ways, never fuzzy matching: ``Washington, D.C.`` is Washington in DC,
    ``Carson City`` may be written ``Carson``, ``St. Gallen`` is ``Sankt Gallen``.
    """
    out: list[tuple[str, str | None]] = []
    words = key.split()
    if not words:
        return out
    if (len(words) >= 2 and words[-2:] == ["d", "c"]) or words[-1] == "dc":
        stem = words[:-2] if words[-1] == "c" else words[:-1]
        if stem:
            out.append((" ".join(stem), "dc"))
    if words[-1] == "city" and len(words) > 1:
        out.append((" ".join(words[:-1]), None))
    if words[0] == "city" and len(words) > 2 and words[1] == "of":
        out.append((" ".join(words[2:]), None))
    for short, full in _STREET_WORDS:
        if words[0] == short and len(words) > 1:
            out.append((" ".join([full, *words[1:]]), None))
    return [(k, r) for k, r in out if k and k != key]


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _not_found(city: object, region: object, country: object) -> str:
    return f"place not found: {_text(city)}, {_text(region)}, {_text(country)}"


def geocode_places(places: pd.DataFrame) -> pd.DataFrame:
    """Coordinates of ``(city, region, country)`` triples, matched in the gazetteer.

    Parameters
    ----------
    places
        One row per place with column ``city`` and optional columns ``region`` and
        ``country``; any may be null. ``country`` is an ISO 3166-1 code (alpha-2 or alpha-3)
        or a country name (``Germany``, ``South Korea``, ``UK``). ``region`` is a first-level
        region as a GeoNames code, an ISO 3166-2 code or a name (``MA``, ``Massachusetts``,
        ``ON``, ``England``, ``Guangdong Province``). Rows may repeat; each is answered.

    Returns
    -------
    pandas.DataFrame
        On the same index: ``lat``, ``lon`` (NaN when not placed), ``country`` (ISO alpha-2
        of the matched place), ``place`` (its GeoNames name), ``place_id`` (its geonameid,
        nullable Int64), ``reason`` (None when matched, else ``place not found: <city>,
        <region>, <country>``, with a hint after ``;`` when one helps).

    Notes
    -----
    Matching rules (docs/places.md):

    1. Keys are case-, accent- and punctuation-insensitive and include every GeoNames
       alternate name; if a key matches nothing, equivalent spellings are tried
       (``D.C.``, ``City``, ``St.``/``Saint``/``Sankt``, ``Frankfurt am Main``).
    2. Candidates must be in the given country.
    3. A region that names a first-level region of the country keeps only candidates in it
       (none left: not found); a region that names none is rejected with a hint naming the
       regions that hold a place of that name (``Portland, Main, US``: Oregon, Maine).
    4. Among the rest the most populous wins, a match on the place's own name counting
       :data:`OWN_NAME_PREFERENCE` times its population against alternate names.
    5. Without a country, a name whose candidates lie in more than one country is rejected
       as ambiguous (``Cambridge`` is in GB, US, CA, ...), not guessed.
    """
    if "city" not in places.columns:
        raise InputError("places to geocode need a 'city' column; add one")
    n = len(places)
    city = places["city"]
    region = places["region"] if "region" in places.columns else pd.Series([None] * n)
    country = places["country"] if "country" in places.columns else pd.Series([None] * n)
    region = region.reset_index(drop=True)
    country = country.reset_index(drop=True)
    city = city.reset_index(drop=True)

    city_key = pd.Series(
        gazetteer.normalize(
            pa.array(city.astype("string"), pa.string(), from_pandas=True)
        ).to_pylist(),
        dtype=object,
    )
    region_key = pd.Series(
        gazetteer.normalize_region(
            pa.array(region.astype("string"), pa.string(), from_pandas=True)
        ).to_pylist(),
        dtype=object,
    )
    region_key = region_key.where(region_key.fillna("").str.len() > 0, None)
    cc, cc_unknown = _country_codes(country)

    gaz = gazetteer.places()
    g_country = gaz["country"].to_numpy(dtype=object)
    g_admin1 = gaz["admin1"].to_numpy(dtype=object)
    g_pop = gaz["population"].to_numpy(dtype=np.float64)
    g_id = gaz["geonameid"].to_numpy()

    has_city = (city_key.fillna("").str.len() > 0).to_numpy()
    owner, row, kind = gazetteer.name_index().lookup(city_key.where(has_city, "\x00"))
    implied = np.full(len(owner), None, dtype=object)
    owner, row, kind, implied = _in_country(owner, row, kind, implied, cc, g_country)

    # Equivalent spellings for keys that matched nothing in their country.
    missing = np.setdiff1d(np.flatnonzero(has_city & ~cc_unknown), owner)
    if len(missing):
        var_owner: list[int] = []
        var_key: list[str] = []
        var_region: list[str | None] = []
        for i in missing:
            for k, r in _variants(str(city_key.iat[i])):
                var_owner.append(int(i))
                var_key.append(k)
                var_region.append(r)
        if var_owner:
            v_pos, v_row, v_kind = gazetteer.name_index().lookup(pd.Series(var_key, dtype=object))
            v_owner = np.asarray(var_owner, dtype=np.int64)[v_pos]
            v_implied = np.asarray(var_region, dtype=object)[v_pos]
            v_owner, v_row, v_kind, v_implied = _in_country(
                v_owner, v_row, v_kind, v_implied, cc, g_country
            )
            owner = np.concatenate([owner, v_owner])
            row = np.concatenate([row, v_row])
            kind = np.concatenate([kind, v_kind])
            implied = np.concatenate([implied, v_implied])

    # Region filter.
    rk = region_key.to_numpy(dtype=object)[owner]
    rk = np.where(pd.isna(rk), implied, rk)
    keep = np.ones(len(owner), dtype=bool)
    with_region = ~pd.isna(rk)
    unknown_region: dict[int, list[str]] = {}
    if with_region.any():
        reg = gazetteer.regions()
        known = set(zip(reg["country"], reg["key"], strict=True))
        exact = set(zip(reg["country"], reg["key"], reg["admin1"], strict=True))
        sel = np.flatnonzero(with_region)
        rec = np.zeros(len(owner), dtype=bool)
        ok = np.zeros(len(owner), dtype=bool)
        for j in sel:
            c = g_country[row[j]]
            rec[j] = (c, rk[j]) in known
            ok[j] = (c, rk[j], g_admin1[row[j]]) in exact
        # An unknown spelling that starts with the name of the candidate's region is that
        # region with a suffix (``Stockholms Lan`` is Stockholm); a shortened or misspelt
        # name is not (``Main`` is not Maine).
        keys_of: dict[tuple[str, str], list[str]] = {}
        for c, k, a in zip(reg["country"], reg["key"], reg["admin1"], strict=True):
            if len(k) >= 4:
                keys_of.setdefault((c, a), []).append(k)
        for j in sel[~rec[sel]]:
            spelled = str(rk[j])
            if any(
                spelled.startswith(k)
                for k in keys_of.get((g_country[row[j]], g_admin1[row[j]]), [])
            ):
                rec[j] = ok[j] = True
        ok_any = pd.Series(ok).groupby(owner).transform("any").to_numpy()
        rec_any = pd.Series(rec).groupby(owner).transform("any").to_numpy()
        # A region that is no first-level region of any candidate's country is not guessed
        # past: the row is rejected, naming the regions that hold a place of that name.
        bad = with_region & ~rec_any
        if bad.any():
            g_region = gaz["admin1_name"].fillna(gaz["admin1"]).to_numpy(dtype=object)
            hint = pd.DataFrame(
                {
                    "owner": owner[bad],
                    "pop": g_pop[row[bad]],
                    "region": [str(r or "?") for r in g_region[row[bad]]],
                }
            ).sort_values(["owner", "pop", "region"], ascending=[True, False, True])
            for i, regions in hint.groupby("owner", sort=True)["region"].agg(list).items():
                unknown_region[int(str(i))] = list(dict.fromkeys(regions))[:6]
        keep = np.where(ok_any, ok, ~rec) & ~bad
    owner, row, kind = owner[keep], row[keep], kind[keep]

    # Choose: most populous, own names preferred; ties by kind then geonameid.
    score = g_pop[row] * np.where(kind == 0, OWN_NAME_PREFERENCE, 1.0)
    order = np.lexsort((g_id[row], kind, -score, owner))
    owner, row = owner[order], row[order]
    first = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, dtype=bool)

    chosen = np.full(n, -1, dtype=np.int64)
    chosen[owner[first]] = row[first]
    # Without a country, candidates in several countries are ambiguous.
    ambiguous: dict[int, list[str]] = {}
    no_cc = pd.isna(cc)
    if no_cc.any() and len(owner):
        frame = pd.DataFrame({"owner": owner, "cc": g_country[row]})
        frame = frame[no_cc[frame["owner"].to_numpy()]]
        spread = frame.groupby("owner")["cc"].agg(lambda s: sorted(set(s)))
        for i, ccs in spread.items():
            if len(ccs) > 1:
                ambiguous[int(i)] = ccs
                chosen[int(i)] = -1

    placed = chosen >= 0
    safe = np.where(placed, chosen, 0)
    lat = np.where(placed, gaz["lat"].to_numpy()[safe], np.nan)
    lon = np.where(placed, gaz["lon"].to_numpy()[safe], np.nan)
    out_cc = np.full(n, None, dtype=object)
    out_cc[placed] = g_country[chosen[placed]]
    name = np.full(n, None, dtype=object)
    name[placed] = gaz["name"].to_numpy(dtype=object)[chosen[placed]]
    place_id = pd.array(np.where(placed, g_id[safe], 0), dtype="Int64")
    place_id[~placed] = pd.NA
    reasons: list[str | None] = [None] * n
    for i in (int(j) for j in np.flatnonzero(~placed)):
        base = _not_found(city.iat[i], region.iat[i], country.iat[i])
        if not has_city[i]:
            base += "; no city given (add lat/lon or a city)"
        elif cc_unknown[i]:
            base += f"; unknown country {_text(country.iat[i])!r} (use an ISO 3166-1 code)"
        elif i in unknown_region:
            base += (
                f"; unknown region {_text(region.iat[i])!r} for {_text(city.iat[i])}: it is in "
                f"{', '.join(unknown_region[i])} (use one of them, or leave the region empty)"
            )
        elif i in ambiguous:
            base += (
                f"; no country given and the name is in {', '.join(ambiguous[i])} (add the country)"
            )
        reasons[i] = base
    return pd.DataFrame(
        {
            "lat": lat.astype(float),
            "lon": lon.astype(float),
            "country": out_cc,
            "place": name,
            "place_id": place_id,
        },
        index=places.index,
    ).assign(reason=pd.Series(reasons, index=places.index, dtype=object))


def _in_country(
    owner: np.ndarray,
    row: np.ndarray,
    kind: np.ndarray,
    implied: np.ndarray,
    cc: np.ndarray,
    g_country: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep candidate pairs whose place lies in the owner's country (when one is given)."""
    want = cc[owner]
    keep = pd.isna(want) | (want == g_country[row])
    return owner[keep], row[keep], kind[keep], implied[keep]


# =========================================================================== geocode_file


def geocode_file(in_path: str | Path, out_path: str | Path) -> dict[str, Any]:
    """Geocode a table of places and write it with coordinates added (``innoclusters geocode``).

    Every input row is written, in input order, with ``lat``, ``lon``, ``country``,
    ``place``, ``place_id`` and ``reason`` set (existing ``lat``/``lon``/``country`` columns
    are filled, not duplicated). A row with coordinates keeps them and gets a country from
    :func:`country_at` if it has none; a row without coordinates is placed by
    :func:`geocode_places` from ``city``, ``region`` and ``country``; a row that cannot be
    placed keeps empty coordinates and carries its reason. Unique places are geocoded once.

    Parameters
    ----------
    in_path
        CSV (UTF-8, with a header), Parquet or JSON Lines with at least a ``city`` column.
    out_path
        Output file; its extension (``.csv``, ``.parquet``, ``.jsonl``/``.ndjson``) sets the
        format. Written atomically.

    Returns
    -------
    dict
        ``rows``, ``rows_to_geocode``, ``rows_geocoded``, ``rate``, ``unique_places``,
        ``countries_assigned``, ``top_unmatched`` (up to 10 ``{"place", "rows"}``) and
        ``seconds``.

    Raises
    ------
    InputError
        When the input is missing, a folder, unreadable, of unknown format or has no ``city``
        column, or the output format is unknown.
    """
    start = time.perf_counter()
    src = Path(in_path)
    dst = Path(out_path)
    in_fmt = format_of(src, role="input", compressed=False)
    out_fmt = format_of(dst, role="output", compressed=False)
    if not src.exists():
        raise InputError(f"{src}: no such file; check the path")
    if not src.is_file():
        raise InputError(f"{src}: is a folder, not a file; give a CSV, Parquet or JSONL file")

    con = duckdb.connect()
    reader = {
        "csv": "read_csv(?, header = true, all_varchar = true)",
        "tsv": "read_csv(?, header = true, all_varchar = true, delim = '\\t')",
        "parquet": "read_parquet(?)",
        "jsonl": "read_json(?, format = 'newline_delimited')",
    }[in_fmt]
    try:
        con.execute(
            f"CREATE TEMP TABLE src AS SELECT row_number() OVER () AS _row, * FROM {reader}",
            [str(src)],
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{src}: cannot read it as {in_fmt} ({first}); check the file") from None
    columns = [r[0] for r in con.execute("DESCRIBE src").fetchall()]
    lower = {c.lower(): c for c in columns}
    if "city" not in lower:
        raise InputError(
            f"{src}: no 'city' column (columns: {', '.join(columns[1:]) or 'none'}); add a "
            "'city' column, with 'region' and 'country' if you have them"
        )

    def col(name: str) -> str | None:
        c = lower.get(name)
        return f'"{c}"' if c else None

    city_c, region_c, country_c = col("city"), col("region"), col("country")
    lat_c, lon_c = col("lat"), col("lon")
    region_sql = f"CAST({region_c} AS VARCHAR)" if region_c else "NULL::VARCHAR"
    country_sql = f"CAST({country_c} AS VARCHAR)" if country_c else "NULL::VARCHAR"
    lat_sql = f"TRY_CAST({lat_c} AS DOUBLE)" if lat_c else "NULL::DOUBLE"
    lon_sql = f"TRY_CAST({lon_c} AS DOUBLE)" if lon_c else "NULL::DOUBLE"
    con.execute(
        f"""CREATE TEMP TABLE keyed AS SELECT _row,
        CAST({city_c} AS VARCHAR) AS k_city, {region_sql} AS k_region,
        {country_sql} AS k_country, {lat_sql} AS k_lat, {lon_sql} AS k_lon FROM src"""
    )
    needs = "k_lat IS NULL OR k_lon IS NULL"
    todo = con.execute(
        f"""SELECT k_city AS city, k_region AS region, k_country AS country, count(*) AS n
        FROM keyed WHERE {needs} GROUP BY ALL"""
    ).df()
    found = geocode_places(todo) if len(todo) else pd.DataFrame()
    placed = pd.concat(
        [todo[["city", "region", "country"]], found.add_prefix("g_")], axis=1
    ).astype({"city": object, "region": object, "country": object})
    if not len(placed):
        placed = pd.DataFrame(
            {
                "city": pd.Series(dtype=object),
                "region": pd.Series(dtype=object),
                "country": pd.Series(dtype=object),
                "g_lat": pd.Series(dtype=float),
                "g_lon": pd.Series(dtype=float),
                "g_country": pd.Series(dtype=object),
                "g_place": pd.Series(dtype=object),
                "g_place_id": pd.Series(dtype="Int64"),
                "g_reason": pd.Series(dtype=object),
            }
        )
    con.register("_placed", placed)
    no_country = con.execute(
        f"SELECT DISTINCT k_lat, k_lon FROM keyed WHERE NOT ({needs}) AND k_country IS NULL"
    ).df()
    no_country["c_country"] = country_at(
        no_country["k_lat"].to_numpy(dtype=float), no_country["k_lon"].to_numpy(dtype=float)
    )
    no_country["c_country"] = no_country["c_country"].replace("", None)
    con.register("_cc", no_country)

    place_c, place_id_c, reason_c = col("place"), col("place_id"), col("reason")
    keep_place = f"s.{place_c}" if place_c else "NULL"
    keep_id = f"TRY_CAST(s.{place_id_c} AS BIGINT)" if place_id_c else "NULL"
    new_cols = {
        "lat": "coalesce(k.k_lat, p.g_lat)",
        "lon": "coalesce(k.k_lon, p.g_lon)",
        "country": f"CASE WHEN k.k_country IS NOT NULL THEN s.{country_c} "
        "ELSE coalesce(p.g_country, c.c_country) END",
        "place": f"coalesce(p.g_place, {keep_place})",
        "place_id": f"coalesce(CAST(p.g_place_id AS BIGINT), {keep_id})",
        "reason": "p.g_reason",
    }
    replaced = {
        q: name
        for q, name in (
            (lat_c, "lat"),
            (lon_c, "lon"),
            (country_c, "country"),
            (place_c, "place"),
            (place_id_c, "place_id"),
            (reason_c, "reason"),
        )
        if q
    }
    select: list[str] = []
    for c in columns[1:]:
        q = f'"{c}"'
        select.append(f"{new_cols[replaced[q]]} AS {q}" if q in replaced else f"s.{q}")
    for name in ("lat", "lon", "country", "place", "place_id", "reason"):
        if col(name) is None:
            select.append(f"{new_cols[name]} AS {name}")
    needs_k = "k.k_lat IS NULL OR k.k_lon IS NULL"
    query = f"""SELECT {", ".join(select)} FROM src AS s JOIN keyed AS k USING (_row)
        LEFT JOIN _placed AS p ON ({needs_k}) AND k.k_city IS NOT DISTINCT FROM p.city
          AND k.k_region IS NOT DISTINCT FROM p.region
          AND k.k_country IS NOT DISTINCT FROM p.country
        LEFT JOIN _cc AS c ON NOT ({needs_k}) AND k.k_lat = c.k_lat AND k.k_lon = c.k_lon
        ORDER BY s._row"""
    options = {
        "csv": "FORMAT csv, HEADER true",
        "tsv": "FORMAT csv, HEADER true, DELIMITER '\\t'",
        "parquet": "FORMAT parquet, COMPRESSION zstd",
        "jsonl": "FORMAT json",
    }[out_fmt]
    try:
        with atomic_path(dst) as tmp:
            con.execute(f"COPY ({query}) TO '{sql_path(tmp)}' ({options})")
    except (OSError, duckdb.IOException) as exc:
        detail = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
        raise InputError(f"{dst}: cannot write it ({detail}); check the folder") from None

    rows = int(con.execute("SELECT count(*) FROM keyed").fetchone()[0])  # type: ignore[index]
    to_geocode = int(todo["n"].sum()) if len(todo) else 0
    missed_mask = found["reason"].notna().to_numpy() if len(todo) else np.zeros(0, bool)
    missed = int(todo["n"].to_numpy()[missed_mask].sum()) if len(todo) else 0
    top: list[dict[str, Any]] = []
    if missed:
        miss = pd.DataFrame({"reason": found["reason"][missed_mask], "n": todo["n"][missed_mask]})
        agg = miss.groupby("reason")["n"].sum().sort_values(ascending=False, kind="stable")
        top = [
            {"place": str(r).removeprefix("place not found: "), "rows": int(k)}
            for r, k in agg.head(10).items()
        ]
    con.close()
    return {
        "rows": rows,
        "rows_to_geocode": to_geocode,
        "rows_geocoded": to_geocode - missed,
        "rate": (to_geocode - missed) / to_geocode if to_geocode else 1.0,
        "unique_places": len(todo),
        "countries_assigned": int((no_country["c_country"].notna()).sum()),
        "top_unmatched": top,
        "seconds": time.perf_counter() - start,
    }
