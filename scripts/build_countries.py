"""Build ``src/innoclusters/data/countries_50m.topojson`` from the npm package ``world-atlas``.

The npm package ``world-atlas`` (ISC licence, by Mike Bostock) redistributes Natural Earth's
1:50m Admin 0 country boundaries (version 4.1.0, public domain) as TopoJSON with ISO 3166-1
*numeric* ids. This script keeps the ``countries`` object, re-quantizes its arcs to a grid of
0.01 degree (about 1 km; the 1:50m source is generalised far more than that) after a
Douglas-Peucker pass (0.02 degree) on each arc, drops points that fall on the same
grid node as their predecessor, and labels each country with its ISO
3166-1 alpha-2 and alpha-3 codes (from ``pycountry``) and Natural Earth's name. Topology is
kept: a border shared by two countries is stored once.

Run once, by hand, when the source changes::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/build_countries.py /tmp/package/countries-50m.json

The output is read by the HTML report (``innoclusters.publish.report``) and can be read by
GeoPandas through GDAL's TopoJSON driver::

    geopandas.read_file("countries_50m.topojson", layer="countries")
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pycountry
import shapely

#: Grid step of the output, degrees.
STEP_DEG = 0.01
#: Douglas-Peucker tolerance applied to each arc, degrees (about 2 km).
SIMPLIFY_DEG = 0.02

#: Natural Earth features without an ISO 3166-1 numeric code in world-atlas, by name.
_BY_NAME = {"Kosovo": ("XK", "XKX")}

OUT = (
    Path(__file__).resolve().parents[1] / "src" / "innoclusters" / "data" / "countries_50m.topojson"
)


def _absolute_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _requantize(points: list[tuple[float, float]]) -> list[list[int]]:
    if len(points) > 2:
        # Douglas-Peucker on the arc alone keeps its ends, so shared borders stay shared.
        points = list(shapely.simplify(shapely.LineString(points), SIMPLIFY_DEG).coords)
    grid = [
        (round((lon + 180.0) / STEP_DEG), round((lat + 90.0) / STEP_DEG)) for lon, lat in points
    ]
    kept = [grid[0]]
    for p in grid[1:-1]:
        if p != kept[-1]:
            kept.append(p)
    kept.append(grid[-1])  # arc ends are shared with other arcs: always kept
    out = [list(kept[0])]
    for (x0, y0), (x1, y1) in itertools.pairwise(kept):
        out.append([x1 - x0, y1 - y0])
    return out


def _codes(numeric: str | None, name: str) -> tuple[str | None, str | None]:
    if numeric:
        country = pycountry.countries.get(numeric=numeric)
        if country is not None:
            return country.alpha_2, country.alpha_3
    return _BY_NAME.get(name, (None, None))


def build(source: Path, out: Path = OUT) -> None:
    """Write the compact TopoJSON of ``source`` (world-atlas ``countries-50m.json``) to ``out``."""
    topology = json.loads(source.read_text(encoding="utf-8"))
    arcs = [_requantize(a) for a in _absolute_arcs(topology)]
    geometries = []
    for geom in topology["objects"]["countries"]["geometries"]:
        name = geom.get("properties", {}).get("name", "")
        a2, a3 = _codes(geom.get("id"), name)
        geometries.append(
            {
                "type": geom["type"],
                "arcs": geom["arcs"],
                "properties": {"iso_a2": a2, "iso_a3": a3, "name": name},
            }
        )
    geometries.sort(key=lambda g: g["properties"]["name"])
    result = {
        "type": "Topology",
        "transform": {"scale": [STEP_DEG, STEP_DEG], "translate": [-180.0, -90.0]},
        "objects": {"countries": {"type": "GeometryCollection", "geometries": geometries}},
        "arcs": arcs,
    }
    out.write_text(
        json.dumps(result, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/build_countries.py PATH/TO/world-atlas/countries-50m.json")
    build(Path(sys.argv[1]))
