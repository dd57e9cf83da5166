"""Benchmark: the places stage (naming, population, country_at) on a finished run.

Run by hand on a run folder (the figures go in docs/places.md), for example the scale-0.1
demo world that ``python -m benchmarks.bench_world --scale 0.1`` writes::

    .venv/bin/python benchmarks/bench_places.py /tmp/innoclusters-world-out-0.1-0

It reads the run's ``locations.parquet`` (with ``cluster_id`` and ``activity``) and
``clusters.geojson`` (the footprints), loads the gazetteer first (not timed), then times,
each on the whole run:

* ``gazetteer_names``: the naming rule with the default settings;
* ``counted_places``: which places the population surface counts (once per process);
* ``area_population``: the gazetteer population of every footprint;
* ``country_at`` on every distinct location, against a baseline in the same run: the
  country of the nearest gazetteer place (one k-d tree query, the rule ``country_at`` used
  before it read country outlines), as a ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from innoclusters.config import Settings
from innoclusters.geo import unit_vectors
from innoclusters.places.borders import country_at, country_outlines
from innoclusters.places.gazetteer import places, root_places
from innoclusters.places.names import gazetteer_names
from innoclusters.places.population import area_population, counted_places


def _timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    took = time.perf_counter() - start
    print(f"{label:<28} {took:8.2f} s")
    return out, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (locations.parquet, clusters.geojson)")
    args = parser.parse_args()
    loc = pd.read_parquet(args.run / "locations.parquet")
    inside = loc[loc["cluster_id"].notna()]
    inside = inside[np.isfinite(inside["lat"]) & np.isfinite(inside["lon"])]
    feet = gpd.read_file(args.run / "clusters.geojson")
    footprints = pd.Series(list(feet.geometry), index=pd.Index(feet["cluster_id"]))
    print(f"{len(loc):,} locations, {len(inside):,} in {len(feet):,} clusters")
    gaz = places()
    root_places()
    country_outlines()
    s = Settings()
    _timed(
        "gazetteer_names",
        gazetteer_names,
        inside,
        max_places=s.name_max_places,
        min_share=s.name_min_share,
        max_km=s.name_max_km,
        min_population_ratio=s.name_min_population_ratio,
    )
    _timed("counted_places (once)", counted_places)
    _timed("area_population", area_population, footprints)
    points = loc[["lat", "lon"]].drop_duplicates()
    lat, lon = points["lat"].to_numpy(float), points["lon"].to_numpy(float)
    tree = cKDTree(unit_vectors(gaz["lat"].to_numpy(), gaz["lon"].to_numpy()))
    _, base = _timed(f"nearest place ({len(points):,} pts)", tree.query, unit_vectors(lat, lon))
    _, took = _timed(f"country_at ({len(points):,} pts)", country_at, lat, lon)
    print(f"country_at / nearest-place baseline: {took / base:.1f}")


if __name__ == "__main__":
    main()
