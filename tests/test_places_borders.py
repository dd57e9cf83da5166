"""country_at from country outlines: real borders, the sea rule, many points at once."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from innoclusters import places
from innoclusters.geo import unit_vectors
from innoclusters.places.borders import COUNTRY_AT_MAX_KM, country_at, country_outlines

#: Town centres on both sides of real borders (coordinates of the town hall or centre).
BORDER_TOWNS = [
    ("Basel", 47.5596, 7.5886, "CH"),
    ("Riehen", 47.5788, 7.6468, "CH"),
    ("Weil am Rhein", 47.5947, 7.6106, "DE"),
    ("Lörrach", 47.6156, 7.6614, "DE"),
    ("Saint-Louis", 47.5900, 7.5600, "FR"),
    ("Huningue", 47.5917, 7.5833, "FR"),
    ("Geneva", 46.2022, 6.1457, "CH"),
    ("Thônex", 46.1967, 6.2006, "CH"),
    ("Annemasse", 46.1934, 6.2342, "FR"),
    ("Detroit", 42.3314, -83.0458, "US"),
    ("Windsor", 42.3149, -83.0364, "CA"),
    ("Hong Kong", 22.2783, 114.1747, "HK"),
    ("Sheung Shui", 22.5017, 114.1283, "HK"),
    ("Shenzhen", 22.5455, 114.0683, "CN"),
    ("Luohu", 22.5483, 114.1178, "CN"),
    ("Macau", 22.2000, 113.5460, "MO"),
    ("Zhuhai", 22.2700, 113.5670, "CN"),
    ("Strasbourg", 48.5839, 7.7455, "FR"),
    ("Kehl", 48.5724, 7.8157, "DE"),
    ("San Diego", 32.7157, -117.1611, "US"),
    ("San Ysidro", 32.5520, -117.0431, "US"),
    ("Tijuana", 32.5149, -117.0382, "MX"),
    ("Singapore", 1.2897, 103.8501, "SG"),
    ("Woodlands", 1.4380, 103.7890, "SG"),
    ("Johor Bahru", 1.4655, 103.7578, "MY"),
    ("Monaco", 43.7384, 7.4246, "MC"),
    ("Kaliningrad", 54.7100, 20.5100, "RU"),
]


def test_towns_on_both_sides_of_real_borders() -> None:
    lat = np.array([t[1] for t in BORDER_TOWNS])
    lon = np.array([t[2] for t in BORDER_TOWNS])
    got = dict(zip([t[0] for t in BORDER_TOWNS], country_at(lat, lon), strict=True))
    assert got == {t[0]: t[3] for t in BORDER_TOWNS}


def test_the_nearest_place_is_not_the_country() -> None:
    # San Ysidro (US, 2.5 km north of the line) is nearest to Tijuana's GeoNames point;
    # Biel-Benken (CH, 2 km from France) to Neuwiller's: nearest-place rules get them wrong.
    lat, lon = np.array([32.565, 47.506]), np.array([-117.035, 7.526])
    g = places.load_gazetteer()
    tree = cKDTree(unit_vectors(g["lat"].to_numpy(), g["lon"].to_numpy()))
    nearest = g["country"].to_numpy()[tree.query(unit_vectors(lat, lon))[1]]
    assert list(nearest) == ["MX", "FR"]
    assert list(country_at(lat, lon)) == ["US", "CH"]


def test_antimeridian_and_any_longitude() -> None:
    # Fiji east of 180, Chukotka west of -170, Taveuni written as 180.1 degrees east.
    got = country_at([-16.78, 65.0, -16.86, -36.85], [-179.95, -175.0, 180.1, 174.76 + 360.0])
    assert list(got) == ["FJ", "RU", "FJ", "NZ"]


def test_sea_rule_nearest_outline_within_territorial_sea() -> None:
    # Boston harbour's outer islands (3.4 km outside the 1:10m coast), a point 18.6 km off
    # the coast, one 31.3 km off it, and open sea.
    lat, lon = [42.33, 42.36, 42.36, 0.0], [-70.95, -70.60, -70.30, -30.0]
    assert list(country_at(lat, lon)) == ["US", "US", "", ""]
    assert list(country_at(lat, lon, max_km=40.0)) == ["US", "US", "US", ""]
    assert list(country_at(lat, lon, max_km=0.0)) == ["", "", "", ""]
    assert pytest.approx(12 * 1.852) == COUNTRY_AT_MAX_KM


def test_not_finite_and_shape_kept() -> None:
    got = country_at(
        np.array([[np.nan, 52.52], [91.0, 48.86]]), np.array([[1.0, 13.40], [0.0, 2.35]])
    )
    assert got.shape == (2, 2)
    assert got.tolist() == [["", "DE"], ["", "FR"]]
    assert list(country_at([], [])) == []


def test_many_points_match_the_gazetteer_countries() -> None:
    # 20,000 gazetteer places of 20,000+ people: the outline's country is the place's
    # country for all but a few border and coastal ones (GeoNames coordinates are rounded).
    g = places.load_gazetteer()
    g = g[(g["population"] >= 20_000) & (g["country"] != "XK")].sample(20_000, random_state=0)
    got = country_at(g["lat"].to_numpy(), g["lon"].to_numpy())
    agree = got == g["country"].to_numpy()
    assert agree.mean() > 0.995
    assert (got == "").mean() < 0.001


def test_outlines_cover_the_codes_in_use() -> None:
    codes, pieces, _ = country_outlines()
    assert len(codes) == len(pieces)
    assert {"CH", "DE", "FR", "HK", "MO", "CN", "SG", "MY", "US", "CA", "MX", "XK"} <= set(codes)
    assert np.all(np.abs([p.bounds[0] for p in pieces]) <= 180.0)
