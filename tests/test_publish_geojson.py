"""clusters.geojson: RFC 7946 geometry, antimeridian splits, same figures as clusters.csv."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box, shape

from innoclusters.publish.geojson import (
    clusters_to_geojson,
    csv_fields,
    split_antimeridian,
    write_geojson,
)
from innoclusters.publish.tables import clusters_csv_text
from tests._publish_data import INJECTION, assert_matches_csv, hand_clusters


def _signed_area(ring: list[list[float]]) -> float:
    xy = np.asarray(ring, dtype=float)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def _polygons(geometry: dict) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    assert geometry["type"] == "MultiPolygon"
    return geometry["coordinates"]


def _csv_frame(clusters: pd.DataFrame) -> pd.DataFrame:
    text = clusters_csv_text(clusters)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _assert_same_as_csv(features: list[dict], csv: pd.DataFrame) -> None:
    assert len(features) == len(csv)
    assert [f["properties"]["cluster_id"] for f in features] == csv["cluster_id"].tolist()
    for feature, (_, row) in zip(features, csv.iterrows(), strict=True):
        props = feature["properties"]
        assert list(props) == list(csv.columns)
        for col, text in row.items():
            assert_matches_csv(str(col), props[col], text)


def test_one_feature_per_cluster_with_csv_fields() -> None:
    clusters = hand_clusters()
    doc = clusters_to_geojson(clusters)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == ["C0001", "C0002", "C0003", "C0004"]
    _assert_same_as_csv(doc["features"], _csv_frame(clusters))
    names = [f["properties"]["name"] for f in doc["features"]]
    assert names[1] == INJECTION
    # NaN becomes null, not the string "nan" or a JSON NaN
    assert doc["features"][1]["properties"]["population"] is None
    assert doc["features"][3]["properties"]["vc"] is None
    assert doc["features"][1]["properties"]["intensity_rank"] is None
    assert doc["features"][0]["properties"]["intensity_rank"] == 2
    assert doc["features"][0]["properties"]["rank"] == 1


def test_coordinates_are_lon_lat_within_range_and_right_hand() -> None:
    doc = clusters_to_geojson(hand_clusters())
    for feature in doc["features"]:
        for polygon in _polygons(feature["geometry"]):
            for i, ring in enumerate(polygon):
                assert ring[0] == ring[-1] and len(ring) >= 4
                xy = np.asarray(ring)
                assert (xy[:, 0] >= -180).all() and (xy[:, 0] <= 180).all()
                assert (xy[:, 1] >= -90).all() and (xy[:, 1] <= 90).all()
                area = _signed_area(ring)
                # exterior counter-clockwise, holes clockwise (RFC 7946 3.1.6)
                assert area > 0 if i == 0 else area < 0
    tokyo = doc["features"][0]["geometry"]
    assert tokyo["type"] == "Polygon"
    # longitude first: Tokyo is at 139.7 E, 35.6 N
    xy = np.asarray(tokyo["coordinates"][0])
    assert xy[:, 0].min() == pytest.approx(139.2) and xy[:, 1].max() == pytest.approx(36.0)


@pytest.mark.parametrize(("row", "west", "east"), [(2, -179.4, 179.2), (3, -179.3, 179.6)])
def test_antimeridian_area_is_split_not_smeared(row: int, west: float, east: float) -> None:
    clusters = hand_clusters()
    feature = clusters_to_geojson(clusters)["features"][row]
    geom = shape(feature["geometry"])
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    # no piece spans the globe: each is within 2 degrees of the antimeridian
    for part in geom.geoms:
        minx, _, maxx, _ = part.bounds
        assert maxx - minx < 2.0
    xs = sorted(part.bounds[0] for part in geom.geoms)
    assert xs[0] == pytest.approx(-180.0) and xs[1] == pytest.approx(east)
    assert max(part.bounds[2] for part in geom.geoms if part.bounds[0] < 0) == pytest.approx(west)
    # nothing lost: the two halves add up to the unwrapped footprint
    assert geom.area == pytest.approx(clusters.geometry.iloc[row].area, rel=1e-9)


def test_split_keeps_holes_and_plain_polygons() -> None:
    fiji = hand_clusters().geometry.iloc[2]
    split = split_antimeridian(fiji)
    assert isinstance(split, MultiPolygon)
    east = next(p for p in split.geoms if p.bounds[0] > 0)
    assert len(east.interiors) == 1
    plain = split_antimeridian(box(10, 10, 11, 11))
    assert isinstance(plain, Polygon) and plain.exterior.is_ccw
    assert split_antimeridian(None) is None
    assert split_antimeridian(Polygon()) is None


def test_split_normalises_a_shape_wholly_past_180() -> None:
    split = split_antimeridian(box(181.0, 0.0, 182.0, 1.0))
    assert isinstance(split, Polygon)
    assert split.bounds == pytest.approx((-179.0, 0.0, -178.0, 1.0))


def test_written_file_is_strict_json_and_readable_by_geopandas(tmp_path: Path) -> None:
    import geopandas

    clusters = hand_clusters()
    path = write_geojson(clusters, tmp_path / "clusters.geojson")
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert "crs" not in doc  # RFC 7946 drops crs; WGS 84 is implied
    back = geopandas.read_file(path)
    assert back["cluster_id"].tolist() == clusters["cluster_id"].tolist()
    assert back["name"].tolist() == clusters["name"].tolist()
    np.testing.assert_allclose(back["score"], clusters["score"].round(4))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file


def test_csv_fields_follow_the_csv_rule() -> None:
    clusters = hand_clusters()
    clusters["_private"] = 1
    clusters["growth"] = 0.5
    fields = csv_fields(clusters)
    assert fields[:4] == ["rank", "cluster_id", "name", "economies"]
    assert fields[-2:] == ["economy_names", "growth"]
    assert "_private" not in fields and "geometry" not in fields
    assert list(_csv_frame(clusters.drop(columns="_private")).columns) == fields


def test_pipeline_geojson_matches_clusters_csv(write_world, tmp_path: Path) -> None:
    from innoclusters.pipeline import run
    from innoclusters.publish.tables import write_clusters_csv

    result = run(write_world())
    csv_path = write_clusters_csv(result, tmp_path / "clusters.csv")
    geo_path = write_geojson(result.clusters, tmp_path / "clusters.geojson")
    csv = pd.read_csv(csv_path, dtype=str, keep_default_na=False, comment="#")
    doc = json.loads(geo_path.read_text(encoding="utf-8"))
    assert len(doc["features"]) == len(result.clusters) > 0
    _assert_same_as_csv(doc["features"], csv)
    for feature in doc["features"]:
        geom = shape(feature["geometry"])
        assert geom.is_valid and geom.area > 0
        lat = feature["properties"]["lat"]
        assert math.isfinite(lat) and geom.bounds[1] - 1 < lat < geom.bounds[3] + 1
