"""A hand-made :class:`~innoclusters.RunResult` for the publish tests.

Small enough to check by hand: four clusters, one crossing the antimeridian with longitudes
unwrapped past 180, one crossing it from the west (past -180), one named like a script
injection, and a handful of locations (members and noise).
"""

from __future__ import annotations

import geopandas
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from innoclusters.config import Settings
from innoclusters.locations import LOCATION_COLUMNS
from innoclusters.result import CLUSTER_COLUMNS, RunResult

INJECTION = "<script>alert(1)</script>"


def hand_clusters() -> geopandas.GeoDataFrame:
    """Four ranked clusters with CSV columns, ``economy_names`` and footprints."""
    rows = [
        # rank, id, name, economies, pat, pub, vc, population, names
        (1, "C0001", "Tokyo–Yokohama", "JP", 120.5, 300.25, 10.0, 37_000_000.0, "Japan"),
        (2, "C0002", INJECTION, "US/CA", 40.0, 90.5, 20.0, np.nan, "United States/Canada"),
        (3, "C0003", "Suva & Labasa", "FJ", 5.0, 30.0, 0.0, 400_000.0, "Fiji"),
        (4, "C0004", "Apia \"West\" 'Side'", "WS", 2.5, 10.0, np.nan, np.nan, "Samoa"),
    ]
    totals = {"patents": 200.0, "publications": 500.0, "vc": 40.0}
    frame = pd.DataFrame(
        rows,
        columns=[
            "rank",
            "cluster_id",
            "name",
            "economies",
            "patents",
            "publications",
            "vc",
            "population",
            "economy_names",
        ],
    )
    for m, total in totals.items():
        frame[f"{m}_share"] = 100.0 * frame[m] / total
    frame["score"] = frame[[f"{m}_share" for m in totals]].sum(axis=1, min_count=1)
    activity = frame[["patents", "publications", "vc"]].sum(axis=1)
    frame["intensity"] = activity / frame["population"] * 1e6
    ranks = frame["intensity"].rank(ascending=False, method="min")
    frame["intensity_rank"] = pd.array(
        [pd.NA if np.isnan(r) else int(r) for r in ranks], dtype="Int64"
    )
    frame["lat"] = [35.6, 40.7, -17.0, -13.8]
    frame["lon"] = [139.7, -74.0, 179.9, -179.8]
    frame = frame[[*CLUSTER_COLUMNS, "economy_names"]]
    geometry = [
        box(139.2, 35.2, 140.2, 36.0),
        MultiPolygon([box(-74.5, 40.4, -73.6, 41.0), box(-79.6, 43.5, -79.2, 43.8)]),
        # unwrapped around 179.9: crosses the antimeridian eastwards, with a hole
        Polygon(
            [(179.2, -17.6), (180.6, -17.6), (180.6, -16.4), (179.2, -16.4)],
            [[(179.4, -17.2), (179.4, -17.0), (179.6, -17.0), (179.6, -17.2)]],
        ),
        # unwrapped around -179.8: crosses westwards (clockwise ring on purpose)
        Polygon([(-180.4, -14.2), (-180.4, -13.4), (-179.3, -13.4), (-179.3, -14.2)]),
    ]
    return geopandas.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def hand_locations() -> pd.DataFrame:
    """Locations of three metrics: members of the clusters and some noise."""
    rows = [
        ("patents", 35.6, 139.7, 100.0, 120, "JP", "Tokyo", 0, True, "C0001"),
        ("patents", 35.5, 139.6, 20.5, 30, "JP", "Yokohama", 0, True, "C0001"),
        ("publications", 35.6, 139.7, 300.25, 400, "JP", "Tokyo", 0, True, "C0001"),
        ("publications", 40.7, -74.0, 90.5, 100, "US", INJECTION, 1, True, "C0002"),
        ("vc", 40.7, -74.0, 20.0, 20, "US", "New York", 0, True, "C0002"),
        ("patents", -17.0, 179.9, 5.0, 5, "FJ", "Suva", 2, True, "C0003"),
        ("patents", -13.8, -179.8, 2.5, 3, "WS", "Apia", 3, False, "C0004"),
        ("patents", 10.0, 10.0, 1.0, 1, "NG", "", -1, False, None),
        ("publications", -30.0, -50.0, 0.5, 1, "BR", "", -1, False, None),
        ("vc", 51.5, -0.1, 1.0, 1, "GB", "London", -1, False, None),
    ]
    return pd.DataFrame(rows, columns=[*LOCATION_COLUMNS, "metric_cluster", "core", "cluster_id"])


def hand_result(*, synthetic: bool = True, profiles: bool = True) -> RunResult:
    """A complete :class:`RunResult` around :func:`hand_clusters`."""
    settings = Settings(top=3)
    totals = {"patents": 200.0, "publications": 500.0, "vc": 40.0}
    rejects = pd.DataFrame(
        {
            "file": ["patents.csv", "patents.csv", f"{INJECTION}.csv"],
            "line": [3, 9, 2],
            "metric": ["patents", "patents", "vc"],
            "doc_id": ["p-1", "p-7", "v-1"],
            "reason": ["lat out of range", "lat out of range", "missing country"],
        }
    )
    manifest = {
        "tool": "innoclusters",
        "synthetic": synthetic,
        "settings": settings.to_dict(),
        "metrics": ["patents", "publications", "vc"],
        "inputs": [
            {
                "path": f"in/{INJECTION}.csv",
                "metric": "patents",
                "rows_read": 210,
                "rows_accepted": 208,
                "rows_rejected": 2,
            },
            {
                "path": "in/vc.csv",
                "metric": "vc",
                "rows_read": 41,
                "rows_accepted": 40,
                "rows_rejected": 1,
            },
        ],
        "rows": {"read": 251, "accepted": 248, "rejected": 3},
        "documents": {"patents": 200, "publications": 500, "vc": 40},
        "windows": {"patents": {"first": 2019, "last": 2023, "weight_in_window": 200.0}},
        "totals": totals,
        "min_weight_used": {"patents": 0.1, "publications": 0.25, "vc": 0.02},
        "clusters": {"found": 4, "top": 3},
        "timings_s": {"records": 0.1},
        "versions": {"innoclusters": "0.1.0"},
    }
    if synthetic:
        manifest["notice"] = "SYNTHETIC DATA: made by innoclusters' demo generator."
    extras = {}
    if profiles:
        extras["profiles"] = pd.DataFrame(
            {
                "cluster_id": ["C0001", "C0001", "C0002", "C0002"],
                "metric": ["patents", "patents", "publications", "patents"],
                "kind": ["org", "field", "org", "org"],
                "value": ["Canon Inc.", "Optics", INJECTION, "Acme & Sons"],
                "share": [0.125, 0.3, 0.5, 0.25],
            }
        )
    return RunResult(
        settings=settings,
        metrics=("patents", "publications", "vc"),
        clusters=hand_clusters(),
        locations=hand_locations(),
        totals=totals,
        rejects=rejects,
        manifest=manifest,
        extras=extras,
    )


def assert_matches_csv(column: str, value: object, text: str) -> None:
    """A value read back from the workbook or GeoJSON equals its ``clusters.csv`` cell."""
    if text == "":
        assert value is None, (column, value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        assert value == pytest.approx(float(text), abs=1e-9), (column, value, text)
    else:
        assert value == text, (column, value, text)
