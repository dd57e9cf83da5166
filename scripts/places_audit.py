"""Audit the naming and population rules on real geography, from the gazetteer only.

Usage::

    python scripts/places_audit.py [--markdown]

For every GII cluster of ``tests/data/gii_clusters.csv`` and
``scripts/places_audit_gii_extra.csv`` it builds one small area where that cluster is:

- its *locations* are the gazetteer places that the population surface counts
  (:func:`innoclusters.places.population.counted_places`) of 10,000 people or more within
  :data:`RADIUS_KM` of one of the cluster's principal places (the table's ``places``), plus
  the principal places themselves; each location's activity is the place's population (an
  inventor and an author per so many inhabitants, nothing favouring the GII's names);
- its *footprint* is drawn by :func:`innoclusters.areas.footprints` at the default
  ``eps_km`` around those locations, as the pipeline draws a cluster's.

It then names the area with :func:`innoclusters.places.names.gazetteer_names` (default
settings) and gives it a population with :func:`innoclusters.places.area_population`, and
prints, per cluster: the GII's name, ours, whether they agree (``=``: the same name; ``~``:
the same first place; ``x``: another first place), the population and the three places that
give it the most people. The closing lines count the agreements; docs/places.md ("Audit on
real geography") quotes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from innoclusters.areas import footprints
from innoclusters.config import Settings
from innoclusters.geo import chord, unit_vectors
from innoclusters.places import area_population, population_by_place
from innoclusters.places.gazetteer import PART_DENSITY_PER_KM2, extent_km, places
from innoclusters.places.names import gazetteer_names
from innoclusters.places.population import counted_places

ROOT = Path(__file__).resolve().parent.parent
TABLES = (
    ROOT / "tests" / "data" / "gii_clusters.csv",
    ROOT / "scripts" / "places_audit_gii_extra.csv",
)
#: Places within this distance of a principal place are locations of the area.
RADIUS_KM = 15.0
#: Smallest place that is a location of the area.
MIN_POPULATION = 10_000
#: A location place of this many people or more is spread over its administrative extent
#: (``sqrt(P / (pi * 6,000/km²))``, :data:`~innoclusters.places.gazetteer.PART_DENSITY_PER_KM2`)
#: as points :data:`GRID_KM` apart sharing its activity, as a real city's addresses are.
SPREAD_POPULATION = 100_000
GRID_KM = 4.0


def _reference() -> pd.DataFrame:
    return pd.concat([pd.read_csv(t, comment="#") for t in TABLES], ignore_index=True)


def _principal_rows(text: str) -> list[int]:
    gaz = places()
    rows = []
    for item in text.split(";"):
        name, cc = item.split("|")
        sel = gaz[(gaz["name_en"] == name) & (gaz["country"] == cc)]
        if len(sel):
            rows.append(int(sel["population"].idxmax()))
    return rows


def _spread(
    lat: np.ndarray, lon: np.ndarray, pop: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each place as points :data:`GRID_KM` apart over its extent: lat, lon, owner."""
    out_lat, out_lon, owner = [], [], []
    for i in range(len(lat)):
        radius = (
            float(extent_km(pop[i], PART_DENSITY_PER_KM2)) if pop[i] >= SPREAD_POPULATION else 0
        )
        steps = np.arange(-np.floor(radius / GRID_KM), np.floor(radius / GRID_KM) + 1) * GRID_KM
        x, y = np.meshgrid(steps, steps)
        inside = np.hypot(x, y) <= max(radius, 1e-9)
        out_lat.append(lat[i] + y[inside] / 110.574)
        out_lon.append(lon[i] + x[inside] / (111.32 * max(np.cos(np.radians(lat[i])), 0.01)))
        owner.append(np.full(int(inside.sum()), i))
    return np.concatenate(out_lat), np.concatenate(out_lon), np.concatenate(owner)


def audit() -> pd.DataFrame:
    """One row per GII cluster: names, agreement, population and the places behind it."""
    settings = Settings()
    gaz = places()
    lat, lon = gaz["lat"].to_numpy(), gaz["lon"].to_numpy()
    pop = gaz["population"].to_numpy(dtype=float)
    counted = counted_places()
    counted = counted[pop[counted] >= MIN_POPULATION]
    tree = cKDTree(unit_vectors(lat[counted], lon[counted]))
    ref = _reference()
    located, missing = [], []
    for gii_name, text in zip(ref["gii_name"], ref["places"], strict=True):
        principal = _principal_rows(text)
        if not principal:
            missing.append(gii_name)
            continue
        hits = tree.query_ball_point(unit_vectors(lat[principal], lon[principal]), chord(RADIUS_KM))
        rows = np.unique(np.concatenate([counted[np.concatenate(hits).astype(int)], principal]))
        p_lat, p_lon, owner = _spread(lat[rows], lon[rows], pop[rows])
        k = np.bincount(owner, minlength=len(rows))
        located.append(
            pd.DataFrame(
                {
                    "cluster_id": gii_name,
                    "lat": p_lat,
                    "lon": p_lon,
                    "activity": pop[rows][owner] / k[owner],
                    "country": gaz["country"].to_numpy(dtype=object)[rows][owner],
                }
            )
        )
    loc = pd.concat(located, ignore_index=True)
    names = gazetteer_names(
        loc,
        max_places=settings.name_max_places,
        min_share=settings.name_min_share,
        max_km=settings.name_max_km,
        min_population_ratio=settings.name_min_population_ratio,
    )
    centres = loc.groupby("cluster_id")[["lat", "lon"]].transform("mean")
    loc["centre_lat"], loc["centre_lon"] = centres["lat"], centres["lon"]
    shapes = footprints(loc, eps_km=settings.eps_km)
    out = []
    for gii_name in ref["gii_name"]:
        if gii_name in missing:
            out.append({"gii_name": gii_name, "name": "(not in the gazetteer)", "agree": "x"})
            continue
        geo = pd.Series([shapes[gii_name]], index=pd.Index([gii_name], name="cluster_id"))
        people = float(area_population(geo).iloc[0])
        behind = population_by_place(geo).head(3)
        ours = str(names["name"].get(gii_name, "?"))
        agree = (
            "="
            if ours == gii_name
            else "~"
            if ours.split("–")[0] == gii_name.split("–")[0]
            else "x"
        )
        out.append(
            {
                "gii_name": gii_name,
                "name": ours,
                "agree": agree,
                "population_m": round(people / 1e6, 2),
                "behind": ", ".join(
                    f"{n} {p / 1e6:.2f}"
                    for n, p in zip(behind["name"], behind["people"], strict=True)
                ),
            }
        )
    return pd.DataFrame(out)


def main(argv: list[str]) -> None:
    table = audit()
    if "--markdown" in argv:
        print("| GII | ours | | people (M) | places behind it (M) |")
        print("| --- | --- | --- | --- | --- |")
        for r in table.itertuples():
            print(f"| {r.gii_name} | {r.name} | {r.agree} | {r.population_m} | {r.behind} |")
    else:
        with pd.option_context("display.width", 250, "display.max_rows", 500):
            print(table.to_string(index=False))
    counts = table["agree"].value_counts()
    print(
        f"\n{len(table)} GII clusters: {counts.get('=', 0)} named as the GII names them, "
        f"{counts.get('~', 0)} with the same first place, {counts.get('x', 0)} otherwise"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
