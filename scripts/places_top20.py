"""Print docs/places.md's table of the demo's top 20 clusters with the places behind each.

Usage (after ``innoclusters demo --out DIR``)::

    python scripts/places_top20.py DIR

For each of the top 20 clusters of ``DIR/clusters.csv``: its population, and the five places
that give its footprint (``DIR/clusters.geojson``) the most people, from
:func:`innoclusters.places.population_by_place`; "of" gives a place's whole GeoNames
population when only part of its disc is inside. Where the GeoJSON footprint, simplified for
the map, gives a different total (to 0.1 million), it is shown in brackets.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import pandas as pd

from innoclusters.places import area_population, population_by_place


def main(out: str) -> None:
    clusters = pd.read_csv(f"{out}/clusters.csv", comment="#")
    footprints = gpd.read_file(f"{out}/clusters.geojson").set_index("cluster_id")
    top = clusters.head(20)
    geo = footprints.loc[top["cluster_id"]].geometry
    by = population_by_place(geo)
    total = area_population(geo)
    for _, row in top.iterrows():
        parts = []
        for _, place in by[by["cluster_id"] == row["cluster_id"]].head(5).iterrows():
            text = f"{place['name']} {place['people'] / 1e6:.1f} M"
            if place["people"] < 0.95 * place["population"]:
                text += f" of {place['population'] / 1e6:.1f} M"
            parts.append(text)
        people = f"{row['population'] / 1e6:.1f} M"
        geojson = float(total[row["cluster_id"]])
        if round(geojson / 1e5) != round(row["population"] / 1e5):
            people += f" (geojson {geojson / 1e6:.1f} M)"
        print(f"| {row['rank']} | {row['name']} | {people} | {', '.join(parts)} |")


if __name__ == "__main__":
    main(sys.argv[1])
