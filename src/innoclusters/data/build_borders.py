"""Build ``country_borders.parquet``: country outlines (Natural Earth 1:10m) for ``country_at``.

The npm package ``world-atlas`` 2.0.2 (ISC licence, Mike Bostock) redistributes Natural
Earth's 1:10m *Admin 0 - Countries* (version 4.1.0, public domain) as TopoJSON
(``countries-10m.json``, arcs quantized to about 400 m by 190 m) with ISO 3166-1 *numeric*
ids. This script decodes it, labels each outline with its ISO 3166-1 alpha-2 code (from
``pycountry``; the few Natural Earth units without a numeric code by :data:`BY_NAME`),
cuts the three outlines that cross the antimeridian (Russia, Fiji, Antarctica) at 180
degrees, repairs invalid rings (``shapely.make_valid``), dissolves the units of one code
(Northern Cyprus into CY), and cuts every country in quarters, recursively, until each piece
has at most :data:`MAX_VERTICES` vertices, so that a point-in-polygon test only ever meets a
small piece. The result is written
beside this script as Parquet: one row per piece, ``country`` (alpha-2) and ``geometry``
(WKB, longitude/latitude, coordinates rounded to :data:`ROUND_DIGITS` decimals).

Run once, by hand, when the source changes (nothing downloads at run time)::

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python -m innoclusters.data.build_borders /tmp/package/countries-10m.json

The 1:50m outlines of the report map (``countries_50m.topojson``) are simplified to about
2 km; these keep Natural Earth's 1:10m detail, which places Basel, Weil am Rhein and
Saint-Louis, or Shenzhen and Hong Kong, on the right side of their borders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pycountry
import shapely

OUT = Path(__file__).with_name("country_borders.parquet")
#: Each country is cut in quarters, recursively, until a piece has at most this many vertices.
MAX_VERTICES = 200
#: Decimals kept on coordinates (0.0001 degree is 11 m, far below the source's 400 m grid).
ROUND_DIGITS = 4

#: Natural Earth units without an ISO 3166-1 numeric code in world-atlas: the code of the
#: country that ISO 3166 (and GeoNames) counts them in, or None where sovereignty is disputed
#: and no code is claimed (points there get a country only by the sea rule of ``country_at``).
BY_NAME: dict[str, str | None] = {
    "Kosovo": "XK",  # user-assigned code used by GeoNames and the EU
    "N. Cyprus": "CY",  # ISO 3166 counts it in Cyprus
    "Cyprus U.N. Buffer Zone": "CY",
    "Akrotiri": "GB",  # UK Sovereign Base Areas
    "Dhekelia": "GB",
    "Somaliland": "SO",
    "Baikonur": "KZ",  # Kazakh territory leased to Russia
    "USNB Guantanamo Bay": "CU",  # Cuban territory leased to the US
    "Coral Sea Is.": "AU",
    "Clipperton I.": "FR",
    "Indian Ocean Ter.": "AU",  # Ashmore and Cartier Islands (Australia)
    "Siachen Glacier": None,
    "Spratly Is.": None,
    "Scarborough Reef": None,
    "Bajo Nuevo Bank": None,
    "Serranilla Bank": None,
}


def _arcs(topology: dict) -> list[np.ndarray]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        q = np.cumsum(np.asarray(arc, dtype=np.float64), axis=0)
        out.append(np.column_stack([q[:, 0] * sx + tx, q[:, 1] * sy + ty]))
    return out


def _ring(indices: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts = []
    for k, i in enumerate(indices):
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(arc if k == 0 else arc[1:])
    return np.concatenate(parts)


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """Longitudes made continuous (a ring jumping from 180 to -180 goes on past 180)."""
    lon = ring[:, 0].copy()
    jumps = np.diff(lon)
    lon[1:] += 360.0 * np.cumsum(-np.sign(jumps) * (np.abs(jumps) > 180.0))
    return np.column_stack([lon, ring[:, 1]])


def _polygon(rings: list[list[int]], arcs: list[np.ndarray]) -> shapely.Geometry:
    """One TopoJSON polygon, cut at the antimeridian into pieces within [-180, 180]."""
    coords = [_unwrap(_ring(r, arcs)) for r in rings]
    shell = coords[0]
    if len(shell) < 4:  # a speck that quantization flattened
        return shapely.Polygon()
    if abs(shell[0, 0] - shell[-1, 0]) > 180.0:
        # A ring around a pole (Antarctica): close it along the pole's latitude.
        pole = -90.0 if shell[:, 1].mean() < 0 else 90.0
        shell = np.vstack([shell, [[shell[-1, 0], pole], [shell[0, 0], pole], shell[0]]])
    poly = shapely.make_valid(shapely.Polygon(shell, [c for c in coords[1:] if len(c) >= 4]))
    pieces = []
    for shift in (-360.0, 0.0, 360.0):
        box = shapely.box(-180.0 + shift, -90.0, 180.0 + shift, 90.0)
        piece = shapely.intersection(poly, box)
        if not piece.is_empty:
            pieces.append(shapely.transform(piece, lambda xy, s=shift: xy - [s, 0.0]))
    return shapely.union_all(pieces)


def _code(numeric: str | None, name: str) -> str | None:
    if numeric:
        country = pycountry.countries.get(numeric=numeric)
        if country is not None:
            return str(country.alpha_2)
    if name not in BY_NAME:
        raise SystemExit(f"no ISO code for Natural Earth unit {name!r}: add it to BY_NAME")
    return BY_NAME[name]


def _areal(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """The polygons of a geometry (a tile cut can leave lines and points: dropped)."""
    parts = shapely.get_parts(geom)
    return [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]


def _split(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """Cut ``geom`` in quarters, recursively, until each piece has few vertices or is small."""
    out: list[shapely.Geometry] = []
    todo = _areal(geom)
    while todo:
        piece = todo.pop()
        minx, miny, maxx, maxy = piece.bounds
        if (
            shapely.get_num_coordinates(piece) <= MAX_VERTICES
            or max(maxx - minx, maxy - miny) < 0.05
        ):
            out.append(piece)
            continue
        mx, my = (minx + maxx) / 2, (miny + maxy) / 2
        for box in (
            shapely.box(minx, miny, mx, my),
            shapely.box(mx, miny, maxx, my),
            shapely.box(minx, my, mx, maxy),
            shapely.box(mx, my, maxx, maxy),
        ):
            todo.extend(_areal(shapely.intersection(piece, box)))
    return out


def build(source: Path, out: Path = OUT) -> None:
    """Write the country pieces of ``source`` (world-atlas ``countries-10m.json``) to ``out``."""
    topology = json.loads(source.read_text(encoding="utf-8"))
    arcs = _arcs(topology)
    by_code: dict[str, list[shapely.Geometry]] = {}
    for geom in topology["objects"]["countries"]["geometries"]:
        code = _code(geom.get("id"), geom.get("properties", {}).get("name", ""))
        if code is None or geom["type"] not in ("Polygon", "MultiPolygon"):
            continue
        polys = [geom["arcs"]] if geom["type"] == "Polygon" else geom["arcs"]
        by_code.setdefault(code, []).extend(_polygon(p, arcs) for p in polys)
    codes: list[str] = []
    pieces: list[shapely.Geometry] = []
    for code in sorted(by_code):
        country = shapely.make_valid(shapely.union_all(by_code[code]))
        for part in _split(country):
            part = shapely.set_precision(part, 10.0**-ROUND_DIGITS)
            if not part.is_empty:
                codes.append(code)
                pieces.append(part)
    table = pa.table(
        {"country": pa.array(codes, pa.string()), "geometry": shapely.to_wkb(np.array(pieces))}
    )
    pq.write_table(table, out, compression="zstd", compression_level=19)
    print(f"{out}: {len(pieces):,} pieces of {len(by_code)} countries")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m innoclusters.data.build_borders PATH/TO/countries-10m.json")
    build(Path(sys.argv[1]))
