"""Population of a disc around a city's point, and the places behind it, from the gazetteer.

Usage::

    python scripts/places_city.py [--km 20] Tokyo:JP:Musashino,Kodaira Toronto:CA ...

For each ``name:country[:place,place...]`` (the English form of the most populous gazetteer
place of that name) it draws a circle of ``--km`` (default 20) around the place's point,
gives it a population with :func:`innoclusters.places.area_population` (the gazetteer
surface, the default of the pipeline) and prints the five places that give it the most
people, and the people the listed places give it (0 when they do not count). A part of a
city counted on top of the city shows as a place of its own among them (Etobicoke beside
Toronto); run it with two code versions (``PYTHONPATH``) and two
``INNOCLUSTERS_CACHE_DIR`` to compare.
docs/places.md quotes its output.
"""

from __future__ import annotations

import sys

import numpy as np
import shapely

from innoclusters.places import area_population, population_by_place
from innoclusters.places.gazetteer import places


def _circle(lat: float, lon: float, km: float) -> shapely.Polygon:
    angle = np.linspace(0.0, 2.0 * np.pi, 128, endpoint=False)
    coslat = max(np.cos(np.radians(lat)), 0.01)
    return shapely.Polygon(
        np.column_stack(
            [lon + km * np.cos(angle) / (111.32 * coslat), lat + km * np.sin(angle) / 111.32]
        )
    )


def main(argv: list[str]) -> None:
    """Print one line per city: its circle's population and the places behind it."""
    km = 20.0
    if argv[:1] == ["--km"]:
        km, argv = float(argv[1]), argv[2:]
    gaz = places()
    for item in argv:
        name, cc, *extra = item.split(":")
        shown = extra[0].split(",") if extra else []
        sel = gaz[(gaz["name_en"] == name) & (gaz["country"] == cc)]
        if not len(sel):
            print(f"{item}: not in the gazetteer")
            continue
        row = sel.loc[sel["population"].idxmax()]
        circle = [_circle(float(row["lat"]), float(row["lon"]), km)]
        total = float(area_population(circle).iloc[0])
        by_place = population_by_place(circle)
        top = by_place.head(5)
        behind = ", ".join(
            f"{n} {p / 1e6:.2f} M" for n, p in zip(top["name"], top["people"], strict=True)
        )
        listed = "; ".join(
            f"{p} {by_place.loc[by_place['name'] == p, 'people'].sum() / 1e6:.2f} M" for p in shown
        )
        print(
            f"{name} ({cc}), {km:g} km: {total / 1e6:.2f} M ({behind})"
            + (f"; {listed}" if listed else "")
        )


if __name__ == "__main__":
    main(sys.argv[1:])
