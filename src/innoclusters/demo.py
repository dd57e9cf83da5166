"""The synthetic demo world: realistic, clearly synthetic records of the three metrics.

:func:`generate_world` writes one Parquet file of records per metric (the records schema of
DESIGN.md, without ``weight``: the pipeline counts 1/N per document) and a ``world_facts.json``
with the generator's own document counts. :func:`run_demo` generates a world and runs the whole
pipeline on it; :func:`print_summary` shows the top of the ranking in a terminal.

How the world is made
---------------------
* **National totals.** ``data/national_totals.csv`` gives, per economy, approximate annual PCT
  applications, scientific articles and VC deals (public statistics, see
  ``data/national_totals.md``) and an annual growth rate. The number of documents whose *lead*
  address is in economy ``c`` in year ``y`` is ``scale * figure * coverage * (1 + growth) **
  (y - reference year)``, rounded stochastically (so it is within one document of the
  expectation). Articles use a coverage of :data:`ARTICLES_COVERAGE` (Web of Science SCIE-like
  coverage of the Scopus figures); ``ROW`` (rest of the world) is spread over the cities of
  every economy not listed.
* **Cities.** Activity within an economy goes to the cities of the gazetteer
  (:func:`innoclusters.places.load_gazetteer`) whose people no larger city's figure holds
  (no borough, district or section: the places the population surface counts), in
  proportion to a *propensity*
  ``population ** alpha * exp(sigma * z) * boost``: ``alpha > 1`` and a log-normal factor give
  the heavy tail in which a few metros dominate, and a short list of known hubs (Hsinchu,
  Eindhoven, Cambridge, Shenzhen, ...) gets a fixed boost. ``z`` is a hash of the city's
  GeoNames id, not a random draw, so the *structure* of the world is the same for every seed
  and scale; the seed only drives the sampling.
* **Documents.** PCT applications have one to many inventors (mostly in the lead city or a
  nearby one, sometimes across a nearby border, rarely abroad); articles have one to many
  author addresses with a share of international co-authorship that is higher for small
  science systems; VC deals have one location. Points scatter around the city centre over a
  radius that grows with the city's population; coordinates are not rounded.
* **Fields and organisations.** Patents carry one of the 35 WIPO technology fields and an
  applicant; articles a broad science field and an organisation per address. Each city has
  its own (fixed) specialisation. Organisation names are generic and made up.

Everything is generated with vectorised NumPy in chunks of at most :data:`DOCS_PER_CHUNK`
documents and streamed to Parquet, so memory stays bounded at any scale.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.spatial import cKDTree
from scipy.special import ndtri

from innoclusters.config import DEMO_UNCERTAINTY, METRICS, Settings, default_uncertainty
from innoclusters.errors import SettingsError
from innoclusters.pipeline import run
from innoclusters.places import load_gazetteer
from innoclusters.places.population import counted_places
from innoclusters.publish import output_folder, write_files
from innoclusters.result import RunResult

__all__ = [
    "ARTICLES_COVERAGE",
    "DEFAULT_SCALE",
    "DOCS_PER_CHUNK",
    "MIN_CITY_POPULATION",
    "PATENT_FIELDS",
    "SCIENCE_FIELDS",
    "SYNTHETIC_NOTICE",
    "YEARS",
    "expected_documents",
    "generate_world",
    "load_national_totals",
    "print_summary",
    "run_demo",
]

#: Default scale of the demo world (1 is about one real five-year world volume).
DEFAULT_SCALE = 0.02

#: Years of each metric in the demo world: six, so that two consecutive GII-style editions
#: exist (2023 and 2024; articles lag a year, as in the GII: edition 2024 counts PCT
#: applications and deals of 2019-2023 and articles of 2018-2022).
YEARS: Mapping[str, tuple[int, ...]] = {
    "patents": (2018, 2019, 2020, 2021, 2022, 2023),
    "publications": (2017, 2018, 2019, 2020, 2021, 2022),
    "vc": (2018, 2019, 2020, 2021, 2022, 2023),
}

#: Year of the national figures of each metric (the growth rate projects the other years).
REFERENCE_YEAR: Mapping[str, int] = {"patents": 2023, "publications": 2022, "vc": 2023}

#: Column of ``national_totals.csv`` for each metric.
TOTALS_COLUMN: Mapping[str, str] = {"patents": "pct", "publications": "articles", "vc": "vc_deals"}

#: Share of the (Scopus, NSF) article figures kept, to approximate Web of Science SCIE
#: coverage: about 2.2 million articles a year, 11 million in five years.
ARTICLES_COVERAGE = 0.66

#: At most this many documents are generated and written at a time.
DOCS_PER_CHUNK = 200_000

#: Said by every output of the demo.
SYNTHETIC_NOTICE = (
    "SYNTHETIC DATA: made by the innoclusters demo generator from approximate public "
    "national totals; not real activity"
)

#: The 35 technology fields of the WIPO IPC-technology concordance (Schmoch, 2008).
PATENT_FIELDS: tuple[str, ...] = (
    "Electrical machinery, apparatus, energy",
    "Audio-visual technology",
    "Telecommunications",
    "Digital communication",
    "Basic communication processes",
    "Computer technology",
    "IT methods for management",
    "Semiconductors",
    "Optics",
    "Measurement",
    "Analysis of biological materials",
    "Control",
    "Medical technology",
    "Organic fine chemistry",
    "Biotechnology",
    "Pharmaceuticals",
    "Macromolecular chemistry, polymers",
    "Food chemistry",
    "Basic materials chemistry",
    "Materials, metallurgy",
    "Surface technology, coating",
    "Micro-structural and nano-technology",
    "Chemical engineering",
    "Environmental technology",
    "Handling",
    "Machine tools",
    "Engines, pumps, turbines",
    "Textile and paper machines",
    "Other special machines",
    "Thermal processes and apparatus",
    "Mechanical elements",
    "Transport",
    "Furniture, games",
    "Other consumer goods",
    "Civil engineering",
)

#: Approximate world shares of the WIPO fields in PCT applications (sum to 1 after scaling).
_PATENT_FIELD_SHARES = np.array(
    [
        *(7.0, 2.5, 2.0, 8.0, 1.0, 9.0, 2.5, 3.5, 2.0, 4.5, 1.0, 2.5, 7.0, 2.5, 3.5, 4.0, 2.5),
        *(1.0, 2.5, 2.0, 1.5, 0.3, 2.5, 1.5, 2.5, 1.5, 2.5, 1.0, 2.5, 1.5, 2.5, 4.0, 2.0, 2.0),
        2.5,
    ]
)

#: Broad science fields of the articles (NSF S&E Indicators field groups).
SCIENCE_FIELDS: tuple[str, ...] = (
    "Health sciences",
    "Biological and biomedical sciences",
    "Engineering",
    "Computer and information sciences",
    "Physics",
    "Chemistry",
    "Materials science",
    "Mathematics and statistics",
    "Geosciences, atmospheric and ocean sciences",
    "Agricultural sciences",
    "Natural resources and conservation",
    "Psychology",
    "Astronomy and astrophysics",
)

_SCIENCE_FIELD_SHARES = np.array(
    [24.0, 14.0, 16.0, 9.0, 6.0, 7.0, 5.0, 3.0, 4.0, 4.0, 3.0, 3.0, 1.0]
)

#: Heavy tail of activity over cities: exponent of population, log-normal spread.
_ALPHA: Mapping[str, float] = {"patents": 1.2, "publications": 1.15, "vc": 1.4}
_SIGMA = 0.9

#: Known hubs and their fixed boost per metric (patents, publications, vc), by economy and
#: ASCII city name. They make the familiar names show up at the top, as in GII rankings.
_HUBS: Mapping[tuple[str, str], tuple[float, float, float]] = {
    ("US", "San Jose"): (25, 3, 20),
    ("US", "San Francisco"): (8, 5, 80),
    ("US", "Palo Alto"): (40, 15, 40),
    ("US", "Boston"): (15, 25, 25),
    ("US", "Cambridge"): (25, 30, 20),
    ("US", "Seattle"): (10, 4, 8),
    ("US", "San Diego"): (10, 5, 5),
    ("US", "Austin"): (5, 2, 6),
    ("US", "New York City"): (0.6, 1.2, 0.25),
    ("CN", "Shenzhen"): (12, 1, 4),
    ("CN", "Beijing"): (4, 15, 6),
    ("CN", "Shanghai"): (0.5, 1, 1),
    ("CN", "Hangzhou"): (5, 2, 5),
    ("CN", "Nanjing"): (1.5, 4, 1),
    ("CN", "Wuhan"): (1, 4, 1),
    ("JP", "Tokyo"): (3, 2, 4),
    ("JP", "Kyoto"): (3, 4, 1),
    ("JP", "Tsukuba"): (6, 25, 1),
    ("KR", "Seoul"): (2, 2, 4),
    ("KR", "Suwon"): (15, 2, 1),
    ("KR", "Daejeon"): (5, 6, 1),
    ("DE", "Munich"): (5, 3, 6),
    ("DE", "Stuttgart"): (6, 1, 1),
    ("DE", "Berlin"): (1, 2, 6),
    ("DE", "Erlangen"): (10, 5, 1),
    ("FR", "Paris"): (3, 3, 5),
    ("FR", "Grenoble"): (6, 6, 1),
    ("GB", "London"): (2, 2, 5),
    ("GB", "Cambridge"): (20, 40, 10),
    ("GB", "Oxford"): (12, 40, 8),
    ("CH", "Basel"): (10, 4, 1),
    ("CH", "Zurich"): (3, 5, 5),
    ("CH", "Lausanne"): (3, 12, 3),
    ("NL", "Eindhoven"): (30, 3, 2),
    ("NL", "Amsterdam"): (1, 2, 5),
    ("SE", "Stockholm"): (3, 2, 5),
    ("SE", "Lund"): (4, 12, 1),
    ("IN", "Bengaluru"): (8, 3, 10),
    ("IL", "Tel Aviv"): (5, 2, 10),
    ("IL", "Haifa"): (8, 3, 1),
    ("TW", "Hsinchu"): (40, 10, 3),
    ("TW", "Taipei"): (3, 3, 4),
    ("FI", "Espoo"): (8, 4, 3),
}

#: Co-address kinds: same city, a nearby city (any economy), another city of the economy,
#: abroad. Per metric, for addresses after the lead one.
_COADDRESS: Mapping[str, tuple[float, float, float, float]] = {
    "patents": (0.55, 0.28, 0.14, 0.03),
    "publications": (0.45, 0.20, 0.30, 0.05),
}

#: Mean number of extra addresses per document and the negative-binomial shape.
_EXTRA_ADDRESSES: Mapping[str, tuple[float, float, int]] = {
    "patents": (1.6, 1.2, 25),
    "publications": (2.2, 1.1, 40),
}

#: Cities smaller than this get no activity (the world does not depend on how fine the
#: gazetteer is).
MIN_CITY_POPULATION = 15_000

#: Nearby cities: up to this many within this distance.
_NEAR_K = 8
_NEAR_KM = 60.0

#: Organisations per city (Zipf-distributed activity among them).
_ORGS_PER_CITY = 6

_PATENT_ORG_THEMES = (
    "Electronics",
    "Instruments",
    "Materials",
    "Biotech",
    "Systems",
    "Machinery",
)
_SCIENCE_ORG_FORMS = (
    "University of {city}",
    "{city} Institute of Technology",
    "{city} Medical Centre",
    "{city} Research Institute",
    "{city} State University",
    "{city} Academy of Sciences",
)
_COMPANY_SUFFIX: Mapping[str, str] = {
    "US": "Inc.",
    "CA": "Inc.",
    "DE": "GmbH",
    "AT": "GmbH",
    "CH": "AG",
    "FR": "SA",
    "GB": "Ltd",
    "IE": "Ltd",
    "NL": "B.V.",
    "SE": "AB",
    "JP": "Co., Ltd.",
    "CN": "Co., Ltd.",
    "KR": "Co., Ltd.",
    "TW": "Co., Ltd.",
    "IT": "S.p.A.",
    "ES": "S.A.",
}

_PREFIX: Mapping[str, str] = {"patents": "SYN-WO", "publications": "SYN-ART", "vc": "SYN-VC"}
_METRIC_INDEX: Mapping[str, int] = {m: i for i, m in enumerate(METRICS)}

Progress = Callable[[str, int, int], None]


# --------------------------------------------------------------------------- national totals


def load_national_totals() -> pd.DataFrame:
    """The approximate national figures behind the demo world.

    Returns
    -------
    pandas.DataFrame
        One row per economy (``iso2``; ``ROW`` is the rest of the world): ``economy``,
        ``pct``, ``articles``, ``vc_deals`` (annual, see ``national_totals.md`` for sources
        and years) and ``growth`` (annual, as a fraction).
    """
    text = resources.files("innoclusters").joinpath("data/national_totals.csv").read_text("utf-8")
    from io import StringIO

    frame = pd.read_csv(StringIO(text), comment="#", keep_default_na=False)
    return frame.astype({"pct": float, "articles": float, "vc_deals": float, "growth": float})


def expected_documents(totals: pd.DataFrame, metric: str, year: int, *, scale: float) -> pd.Series:
    """Expected number of documents of ``metric`` led from each economy in ``year``.

    Parameters
    ----------
    totals
        :func:`load_national_totals`.
    metric
        ``patents``, ``publications`` or ``vc``.
    year
        The year.
    scale
        The world's scale.

    Returns
    -------
    pandas.Series
        Indexed by ``iso2`` (``ROW`` included), in documents (not rounded).
    """
    coverage = ARTICLES_COVERAGE if metric == "publications" else 1.0
    figure = totals[TOTALS_COLUMN[metric]].to_numpy(dtype=float)
    growth = (1.0 + totals["growth"].to_numpy(dtype=float)) ** (year - REFERENCE_YEAR[metric])
    return pd.Series(scale * coverage * figure * growth, index=totals["iso2"].to_numpy())


# --------------------------------------------------------------------------- the world's structure


def _hash_uniform(keys: np.ndarray, salt: int) -> np.ndarray:
    """A fixed uniform number in (0, 1) per integer key (splitmix64), the same on every run."""
    x = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _hash_normal(keys: np.ndarray, salt: int) -> np.ndarray:
    return np.asarray(ndtri(_hash_uniform(keys, salt)), dtype=float)


def _gazetteer() -> pd.DataFrame:
    """The places that get activity: gazetteer places whose people no larger place's figure
    holds (:func:`~innoclusters.places.population.counted_places`), so that neither a
    borough (Brooklyn, Queens) nor a city's district (Hollywood) adds to its city's weight a
    second time, while a city of its own beside a larger one (Jersey City, Giza) has its own.
    """
    gaz = load_gazetteer()
    counted = np.zeros(len(gaz), dtype=bool)
    counted[counted_places()] = True
    return gaz[counted]


@dataclasses.dataclass(frozen=True)
class _World:
    """Cities grouped by economy (``ROW`` last), with everything sampling needs."""

    groups: tuple[str, ...]
    group_of: np.ndarray  # city -> group index
    group_start: np.ndarray  # first city of each group (cities are sorted by group)
    lat: np.ndarray
    lon: np.ndarray
    sigma_km: np.ndarray
    city_names: pa.Array
    countries: tuple[str, ...]
    country_of: np.ndarray  # city -> index into countries
    cum: Mapping[str, np.ndarray]  # cumulative propensity over all cities, per metric
    near: np.ndarray  # city -> up to _NEAR_K nearby cities (-1 pads)
    near_cum: Mapping[str, np.ndarray]  # normalised cumulative propensity of ``near``
    field_cum: Mapping[str, np.ndarray]  # city -> cumulative field distribution
    org_names: Mapping[str, pa.Array]  # city * _ORGS_PER_CITY + k -> name

    def group_mass(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative propensity before each group's first city, and each group's total."""
        cum = self.cum[metric]
        ends = np.append(self.group_start[1:], len(cum))
        before = np.where(self.group_start > 0, cum[np.maximum(self.group_start - 1, 0)], 0.0)
        return before, cum[ends - 1] - before


def _build_world(totals: pd.DataFrame) -> _World:
    gaz = _gazetteer()
    gaz = gaz[gaz["population"].fillna(0) >= MIN_CITY_POPULATION].copy()
    listed = [c for c in totals["iso2"] if c != "ROW"]
    gaz["group"] = gaz["country"].where(gaz["country"].isin(listed), "ROW")
    groups = tuple(str(c) for c in totals["iso2"])
    gaz["group_index"] = gaz["group"].map({g: i for i, g in enumerate(groups)})
    gaz = gaz.sort_values(["group_index", "population", "geonameid"], ascending=[True, False, True])
    gaz = gaz.reset_index(drop=True)
    present = set(gaz["group"])
    absent = [g for g in groups if g not in present]
    if absent:
        raise SettingsError(f"the gazetteer has no city of economies {', '.join(absent)}")
    ids = gaz["geonameid"].to_numpy(dtype=np.int64)
    pop = gaz["population"].to_numpy(dtype=float)
    lat = gaz["lat"].to_numpy(dtype=float)
    lon = gaz["lon"].to_numpy(dtype=float)
    country = gaz["country"].astype(str).to_numpy()
    names = gaz["name"].astype(str).to_numpy()
    keys = gaz["asciiname"].astype(str).str.lower().to_numpy()
    group_of = gaz["group_index"].to_numpy(dtype=np.int64)
    group_start = np.searchsorted(group_of, np.arange(len(groups)))

    boost = np.ones((len(gaz), 3))
    hub_index: dict[tuple[str, str], int] = {}
    for i, key in enumerate(zip(country, keys, strict=True)):
        hub_index.setdefault(key, i)  # the most populous city of that name (sorted above)
    for (code, name), factors in _HUBS.items():
        hub = hub_index.get((code, name.lower()))
        if hub is not None:
            boost[hub] = factors
    common = _hash_normal(ids, 1)
    cum: dict[str, np.ndarray] = {}
    prop: dict[str, np.ndarray] = {}
    for m, metric in enumerate(METRICS):
        z = 0.6 * common + 0.8 * _hash_normal(ids, 10 + m)
        p = pop ** _ALPHA[metric] * np.exp(_SIGMA * z) * boost[:, m]
        prop[metric] = p
        cum[metric] = np.cumsum(p)

    xyz = np.column_stack(
        (
            np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
            np.cos(np.radians(lat)) * np.sin(np.radians(lon)),
            np.sin(np.radians(lat)),
        )
    )
    chord = 2.0 * math.sin(_NEAR_KM / 6371.0088 / 2.0)
    dist, idx = cKDTree(xyz).query(xyz, k=_NEAR_K + 1, distance_upper_bound=chord)
    near = np.where(np.isfinite(dist[:, 1:]), idx[:, 1:], -1).astype(np.int64)
    near_cum: dict[str, np.ndarray] = {}
    for metric in METRICS:
        w = np.where(near >= 0, prop[metric][np.maximum(near, 0)], 0.0)
        c = np.cumsum(w, axis=1)
        total = c[:, -1:]
        near_cum[metric] = np.divide(c, total, out=np.ones_like(c), where=total > 0)

    field_cum: dict[str, np.ndarray] = {}
    for metric, shares, salt in (
        ("patents", _PATENT_FIELD_SHARES, 100),
        ("publications", _SCIENCE_FIELD_SHARES, 200),
    ):
        k = len(shares)
        pairs = ids[:, None] * 64 + np.arange(k)[None, :]
        w = shares[None, :] * np.exp(1.0 * _hash_normal(pairs, salt))
        c = np.cumsum(w, axis=1)
        field_cum[metric] = c / c[:, -1:]

    countries = tuple(sorted(set(country.tolist())))
    country_index = {c: i for i, c in enumerate(countries)}
    org_names = {
        "patents": pa.array(
            [
                f"{n} {theme} {_COMPANY_SUFFIX.get(c, 'Ltd')} (synthetic)"
                for n, c in zip(names, country, strict=True)
                for theme in _PATENT_ORG_THEMES
            ]
        ),
        "publications": pa.array(
            [form.format(city=n) + " (synthetic)" for n in names for form in _SCIENCE_ORG_FORMS]
        ),
    }
    sigma_km = 1.5 + 2.5 * np.sqrt(pop / 1e6)
    return _World(
        groups=groups,
        group_of=group_of,
        group_start=group_start,
        lat=lat,
        lon=lon,
        sigma_km=sigma_km,
        city_names=pa.array(names),
        countries=countries,
        country_of=np.array([country_index[c] for c in country], dtype=np.int64),
        cum=cum,
        near=near,
        near_cum=near_cum,
        field_cum=field_cum,
        org_names=org_names,
    )


# --------------------------------------------------------------------------- sampling


def _sample_in_groups(world: _World, metric: str, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A city of each given group, by propensity."""
    before, mass = world.group_mass(metric)
    target = before[groups] + u * mass[groups]
    cum = world.cum[metric]
    city = np.searchsorted(cum, target, side="right")
    # Floating point at a segment's end: stay inside the group.
    ends = np.append(world.group_start[1:], len(cum)) - 1
    return np.clip(city, world.group_start[groups], ends[groups])


def _pick_row(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the first column of each row of ``cum`` (cumulative, ends at 1) above ``u``."""
    return np.minimum((cum < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def _dictionary(indices: np.ndarray, names: pa.Array) -> pa.Array:
    """The string column ``names[indices]``, made through a dictionary of the names used."""
    present = np.bincount(indices, minlength=len(names)) > 0
    used = np.flatnonzero(present)
    lookup = np.cumsum(present, dtype=np.int32) - 1
    coded = pa.DictionaryArray.from_arrays(pa.array(lookup[indices]), names.take(pa.array(used)))
    # Plain strings: Parquet dictionary-encodes them itself, and the file's bytes then
    # depend on the values only (an Arrow dictionary column's do not).
    return coded.dictionary_decode()


def _doc_ids(metric: str, year: int, first: int, n: int) -> pa.Array:
    seq = pc.utf8_lpad(pc.cast(pa.array(np.arange(first, first + n)), pa.string()), 8, "0")
    return pc.binary_join_element_wise(f"{_PREFIX[metric]}-{year}-", seq, "")


def _schema(metric: str) -> pa.Schema:
    text = pa.string()
    fields = [
        pa.field("doc_id", pa.string()),
        pa.field("year", pa.int32()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("country", text),
        pa.field("city", text),
    ]
    if metric != "vc":
        fields += [pa.field("org", text), pa.field("field", text)]
    return pa.schema(fields, metadata={"innoclusters": SYNTHETIC_NOTICE})


def _chunk(
    world: _World,
    metric: str,
    year: int,
    lead_groups: np.ndarray,
    first_doc: int,
    rng: np.random.Generator,
    intl: np.ndarray,
    schema: pa.Schema,
) -> pa.Table:
    """Records of one chunk of documents (their lead economies given)."""
    n_docs = len(lead_groups)
    lead = _sample_in_groups(world, metric, lead_groups, rng.random(n_docs))
    if metric == "vc":
        n_addr = np.ones(n_docs, dtype=np.int64)
    else:
        mean, shape, cap = _EXTRA_ADDRESSES[metric]
        extra = rng.negative_binomial(shape, shape / (shape + mean), size=n_docs)
        n_addr = 1 + np.minimum(extra, cap - 1)
    n_rows = int(n_addr.sum())
    doc = np.repeat(np.arange(n_docs), n_addr)
    starts = np.cumsum(n_addr) - n_addr
    rank = np.arange(n_rows) - starts[doc]
    city = lead[doc]
    co = np.flatnonzero(rank > 0)
    if len(co):
        p_same, p_near, p_home, _ = _COADDRESS[metric]
        u = rng.random(len(co))
        base = lead[doc[co]]
        choice = city[co].copy()
        near = u >= p_same
        home = u >= p_same + p_near
        abroad = u >= p_same + p_near + p_home
        # International co-authorship of articles: the second address is abroad with the
        # lead economy's probability.
        if metric == "publications":
            abroad |= (rank[co] == 1) & (rng.random(len(co)) < intl[lead_groups[doc[co]]])
        k = _pick_row(world.near_cum[metric][base], rng.random(len(co)))
        nearby = world.near[base, k]
        sel = near & ~home & ~abroad
        choice[sel] = np.where(nearby[sel] >= 0, nearby[sel], base[sel])
        sel = home & ~abroad
        choice[sel] = _sample_in_groups(
            world, metric, world.group_of[base[sel]], rng.random(int(sel.sum()))
        )
        cum = world.cum[metric]
        hits = np.searchsorted(cum, rng.random(int(abroad.sum())) * cum[-1], side="right")
        choice[abroad] = np.minimum(hits, len(cum) - 1)
        city[co] = choice
    lat0 = world.lat[city]
    sigma = world.sigma_km[city] * np.where(rng.random(n_rows) < 0.25, 2.2, 1.0)
    lat = np.clip(lat0 + rng.standard_normal(n_rows) * sigma / 110.574, -89.9, 89.9)
    kx = 111.32 * np.maximum(np.cos(np.radians(lat0)), 0.05)
    lon = world.lon[city] + rng.standard_normal(n_rows) * sigma / kx
    lon = (lon + 180.0) % 360.0 - 180.0
    ids = _doc_ids(metric, year, first_doc, n_docs).take(pa.array(doc))
    columns: list[pa.Array] = [
        ids,
        pa.array(np.full(n_rows, year, dtype=np.int32)),
        pa.array(lat),
        pa.array(lon),
        _dictionary(world.country_of[city], pa.array(world.countries)),
        _dictionary(city, world.city_names),
    ]
    if metric != "vc":
        zipf = rng.zipf(1.6, size=n_rows if metric == "publications" else n_docs)
        org_k = np.minimum(zipf - 1, _ORGS_PER_CITY - 1)
        if metric == "patents":  # the applicant is a property of the application
            org = (lead * _ORGS_PER_CITY + org_k)[doc]
        else:  # an author's organisation is where the author is
            org = city * _ORGS_PER_CITY + org_k
        field = _pick_row(world.field_cum[metric][lead], rng.random(n_docs))[doc]
        labels = PATENT_FIELDS if metric == "patents" else SCIENCE_FIELDS
        columns += [
            _dictionary(org, world.org_names[metric]),
            _dictionary(field, pa.array(labels)),
        ]
    return pa.Table.from_arrays(columns, schema=schema)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _intl_probability(totals: pd.DataFrame) -> np.ndarray:
    """Chance that an article with several addresses has one abroad, per lead economy.

    Small science systems co-author abroad more (Switzerland about 0.45, the United States
    and China about 0.27), as in the NSF indicators' international co-authorship shares.
    """
    articles = totals["articles"].to_numpy(dtype=float)
    return 0.25 + 0.5 / (1.0 + articles / 15_000.0)


def generate_world(
    out_dir: str | Path,
    *,
    scale: float = DEFAULT_SCALE,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, list[Path]]:
    """Write a synthetic world of patent, publication and VC records to Parquet.

    Parameters
    ----------
    out_dir
        Folder for ``patents.parquet``, ``publications.parquet``, ``vc.parquet`` and
        ``world_facts.json`` (created if missing; existing files are replaced).
    scale
        Size of the world: 1 is about one real five-year world volume (1.4 million PCT
        applications, 11 million articles, 0.25 million VC deals in each five years).
    seed
        The same seed and scale give byte-identical files.
    progress
        Called as ``progress(metric, documents_done, documents_total)`` after each chunk.

    Returns
    -------
    dict
        ``metric -> [path of its Parquet file]``.

    Raises
    ------
    SettingsError
        When ``scale`` is not a positive number or ``seed`` not a non-negative integer.

    Examples
    --------
    >>> from innoclusters.demo import generate_world
    >>> files = generate_world("demo-data", scale=0.001, seed=1)  # doctest: +SKIP
    >>> sorted(files)  # doctest: +SKIP
    ['patents', 'publications', 'vc']
    """
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 100:
        raise SettingsError(f"demo scale must be a number in (0, 100], got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SettingsError(f"demo seed must be a whole number >= 0, got {seed!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    totals = load_national_totals()
    world = _build_world(totals)
    intl = _intl_probability(totals)
    groups = np.arange(len(world.groups))
    facts: dict[str, Any] = {
        "notice": SYNTHETIC_NOTICE,
        "synthetic": True,
        "scale": scale,
        "seed": seed,
        "years": {m: list(y) for m, y in YEARS.items()},
        "reference_year": dict(REFERENCE_YEAR),
        "articles_coverage": ARTICLES_COVERAGE,
        "cities": len(world.lat),
        "documents": {},
        "expected": {},
        "rows": {},
    }
    files: dict[str, list[Path]] = {}
    for metric in METRICS:
        counts: dict[int, np.ndarray] = {}
        expected: dict[int, pd.Series] = {}
        for year in YEARS[metric]:
            e = expected_documents(totals, metric, year, scale=scale)
            base = np.floor(e.to_numpy())
            frac = e.to_numpy() - base
            draw = _rng(seed, _METRIC_INDEX[metric], year, 0).random(len(e))
            counts[year] = (base + (draw < frac)).astype(np.int64)
            expected[year] = e
        total_docs = int(sum(c.sum() for c in counts.values()))
        schema = _schema(metric)
        path = out / f"{metric}.parquet"
        tmp = out / f".{metric}.parquet.tmp"
        rows = 0
        done = 0
        # One writer thread compresses and writes a chunk while the next one is generated
        # (both release the GIL); at most two chunks are in memory.
        with (
            pq.ParquetWriter(tmp, schema, compression="zstd") as writer,
            ThreadPoolExecutor(max_workers=1) as pool,
        ):
            pending: Future[None] | None = None
            for year in YEARS[metric]:
                lead_groups = np.repeat(groups, counts[year])
                for c, first in enumerate(range(0, len(lead_groups), DOCS_PER_CHUNK)):
                    part = lead_groups[first : first + DOCS_PER_CHUNK]
                    rng = _rng(seed, _METRIC_INDEX[metric], year, c + 1)
                    table = _chunk(world, metric, year, part, first, rng, intl, schema)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write_table, table)
                    rows += table.num_rows
                    done += len(part)
                    if progress is not None:
                        progress(metric, done, total_docs)
            if pending is not None:
                pending.result()
        tmp.replace(path)
        files[metric] = [path]
        facts["rows"][metric] = rows
        facts["documents"][metric] = {
            g: {str(y): int(counts[y][i]) for y in YEARS[metric]}
            for i, g in enumerate(world.groups)
            if any(counts[y][i] for y in YEARS[metric])
        }
        facts["expected"][metric] = {
            g: {str(y): round(float(expected[y].iloc[i]), 6) for y in YEARS[metric]}
            for i, g in enumerate(world.groups)
        }
    facts["documents_total"] = {
        m: sum(sum(v.values()) for v in facts["documents"][m].values()) for m in METRICS
    }
    (out / "world_facts.json").write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    return files


# --------------------------------------------------------------------------- demo run


def run_demo(
    out_dir: str | Path,
    *,
    scale: float = DEFAULT_SCALE,
    seed: int = 0,
    quiet: bool = False,
    uncertainty: int | None = None,
) -> RunResult:
    """Generate the demo world into ``out_dir/data`` and run the whole pipeline on it.

    Parameters
    ----------
    out_dir
        Output folder: the pipeline's files, and the synthetic input records in ``data/``
        (so that ``innoclusters run`` can be tried on them).
    scale
        Size of the world (see :func:`generate_world`).
    seed
        Seed of the sampling; the same seed gives the same files.
    quiet
        No progress display.
    uncertainty
        Rank uncertainty replicates per source; default
        ``default_uncertainty(DEMO_UNCERTAINTY)`` (fewer than a run's, to stay under a
        minute; see :mod:`innoclusters.config`).

    Returns
    -------
    RunResult
        With ``synthetic`` set in its manifest, and ``extras["out_dir"]`` and
        ``extras["world_facts"]``.
    """

    out = Path(out_dir)
    # The world is generated inside the new output folder, so it is replaced with it.
    with output_folder(out) as folder:
        return _demo_run(out, folder, scale=scale, seed=seed, quiet=quiet, uncertainty=uncertainty)


def _demo_run(
    out: Path, folder: Path, *, scale: float, seed: int, quiet: bool, uncertainty: int | None
) -> RunResult:
    data = folder / "data"
    start = time.perf_counter()
    if quiet:
        files = generate_world(data, scale=scale, seed=seed)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

        console = Console(stderr=True)
        console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            tasks = {m: bar.add_task(f"Generating {m}", total=None) for m in METRICS}

            def report(metric: str, done: int, total: int) -> None:
                bar.update(tasks[metric], completed=done, total=total)

            files = generate_world(data, scale=scale, seed=seed, progress=report)
        console.print(
            f"[green]✓[/] Generating the synthetic world, scale {scale:g}, seed {seed} "
            f"({time.perf_counter() - start:.1f} s)"
        )
    generated = time.perf_counter() - start
    replicates = default_uncertainty(DEMO_UNCERTAINTY) if uncertainty is None else uncertainty
    # The demo's quick uncertainty: fewer replicates, 3 values per what-if choice.
    settings = Settings(uncertainty=replicates, uncertainty_grid=3)
    result = run(files, settings, synthetic=True, progress=not quiet)
    facts = json.loads((data / "world_facts.json").read_text(encoding="utf-8"))
    result.manifest["demo"] = {
        "scale": scale,
        "seed": seed,
        "data": data.name,
        "rows": facts["rows"],
        "documents": facts["documents_total"],
        "generation_s": round(generated, 3),
    }
    result.manifest["synthetic"] = True
    result.extras["out_dir"] = out
    result.extras["world_facts"] = facts
    write_files(result, folder)
    return result


def print_summary(result: RunResult, console: Any, *, out_dir: str | Path | None = None) -> None:
    """Print a SYNTHETIC DATA banner, the top 10 clusters and where the output folder is.

    Parameters
    ----------
    result
        What :func:`run_demo` (or :func:`innoclusters.pipeline.run`) returned.
    console
        A :class:`rich.console.Console`.
    out_dir
        The output folder; defaults to ``result.extras["out_dir"]``.
    """
    from rich.panel import Panel
    from rich.table import Table

    synthetic = bool(result.manifest.get("synthetic"))
    if synthetic:
        console.print(Panel(f"[bold]{SYNTHETIC_NOTICE}[/]", style="yellow", expand=False))
    clusters = result.clusters
    table = Table(title=f"Top 10 of {len(clusters)} clusters", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("name")
    table.add_column("economies")
    short = {"patents": "PCT %", "publications": "articles %", "vc": "VC %"}
    for metric in result.metrics:
        table.add_column(short.get(metric, f"{metric} %"), justify="right")
    table.add_column("score", justify="right")
    for _, row in clusters.head(10).iterrows():
        shares = [f"{float(row[f'{m}_share']):.2f}" for m in result.metrics]
        table.add_row(
            str(int(row["rank"])),
            str(row["name"]),
            str(row["economies"]),
            *shares,
            f"{float(row['score']):.2f}",
        )
    console.print(table)
    where = out_dir if out_dir is not None else result.extras.get("out_dir")
    if where is not None:
        console.print(f"Full ranking and report in [bold]{Path(where)}[/]/")
    if synthetic:
        console.print("[yellow]Every figure above is synthetic.[/]")
