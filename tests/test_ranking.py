"""Ranking: counts, shares, score, rank, economies and names on hand-made areas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from innoclusters.config import Settings
from innoclusters.places import economies_of, unique_names
from innoclusters.places.names import city_names
from innoclusters.ranking import rank_clusters
from innoclusters.result import CLUSTER_COLUMNS


def located() -> pd.DataFrame:
    rows = [
        # cluster_id, metric, weight, country, city
        ("A", "patents", 30.0, "CN", "Shenzhen"),
        ("A", "patents", 10.0, "HK", "Hong Kong"),
        ("A", "publications", 20.0, "CN", "Guangzhou"),
        ("B", "patents", 10.0, "US", "Boston"),
        ("B", "publications", 60.0, "US", "Cambridge"),
        (None, "patents", 50.0, "BR", None),
        (None, "publications", 20.0, "BR", None),
    ]
    frame = pd.DataFrame(rows, columns=["cluster_id", "metric", "weight", "country", "city"])
    totals = {"patents": 100.0, "publications": 100.0}
    frame["activity"] = frame["weight"] * 100.0 / frame["metric"].map(totals)
    return frame


CENTRES = pd.DataFrame(
    {"centre_lat": [22.5, 42.4], "centre_lon": [114.1, -71.1]}, index=pd.Index(["A", "B"])
)


def test_shares_score_and_rank() -> None:
    table = rank_clusters(
        located(),
        totals={"patents": 100.0, "publications": 100.0},
        metrics=["patents", "publications"],
        settings=Settings(),
        centres=CENTRES,
        gazetteer=False,
    )
    assert list(table.columns) == list(CLUSTER_COLUMNS)
    assert list(table["cluster_id"]) == ["B", "A"]  # B: 10 + 60 = 70; A: 40 + 20 = 60
    assert list(table["rank"]) == [1, 2]
    assert list(table["patents"]) == [10.0, 40.0]
    assert list(table["patents_share"]) == [10.0, 40.0]
    assert list(table["score"]) == [70.0, 60.0]
    assert table["vc"].isna().all() and table["vc_share"].isna().all()
    # Shares of a metric add up to at most 100 (noise holds the rest).
    assert table["patents_share"].sum() == pytest.approx(50.0)


def test_metric_weights_change_the_score() -> None:
    table = rank_clusters(
        located(),
        totals={"patents": 100.0, "publications": 100.0},
        metrics=["patents", "publications"],
        settings=Settings(metric_weights={"publications": 0.0}),
        centres=CENTRES,
        gazetteer=False,
    )
    assert list(table["cluster_id"]) == ["A", "B"]
    assert list(table["score"]) == [40.0, 10.0]


def test_economies_listed_by_share_largest_first() -> None:
    frame = located()
    # A: CN 30 + 20 = 50 share points (of 40+20=60 activity: CN 50, HK 10).
    assert economies_of(frame, min_share=0.1).to_dict() == {"A": "CN/HK", "B": "US"}
    assert economies_of(frame, min_share=0.2).to_dict() == {"A": "CN", "B": "US"}


def test_names_from_most_active_cities() -> None:
    frame = located()
    names = city_names(frame, max_places=3, min_share=0.1)
    assert names.to_dict() == {"A": "Shenzhen–Guangzhou–Hong Kong", "B": "Cambridge–Boston"}
    names = city_names(frame, max_places=2, min_share=0.2)
    assert names.to_dict() == {"A": "Shenzhen–Guangzhou", "B": "Cambridge"}


def test_unique_names() -> None:
    names = pd.Series(["Portland", "Portland", "Paris", "Portland"], index=["a", "b", "c", "d"])
    econ = pd.Series(["US", "US", "FR", "US"], index=["a", "b", "c", "d"])
    act = pd.Series([2.0, 1.0, 1.0, 0.5], index=["a", "b", "c", "d"])
    out = unique_names(names, activity=act, economy=econ)
    # the most active keeps the plain name; the others get their economy, then a number
    assert list(out) == ["Portland", "Portland (US)", "Paris", "Portland (US) #2"]
    assert out.is_unique
    assert np.all(out.index == names.index)
    region = pd.Series(["Oregon", "Maine", "", "Maine"], index=names.index)
    out = unique_names(names, activity=act, economy=econ, region=region)
    assert list(out) == ["Portland", "Portland (US)", "Paris", "Portland (US, Maine)"]
