"""Benchmark: offline geocoding of 1,000,000 city/region/country rows.

Run by hand (the figure goes in the README and docs/places.md)::

    .venv/bin/python benchmarks/bench_geocode.py --rows 1000000

The rows are drawn from the gazetteer itself with a realistic share of repeats: places are
picked with probability proportional to population (inventor and author addresses
concentrate in big cities), so 1,000,000 rows hold a few tens of thousands of distinct
places. They are written as people write them: a third without accents, a tenth in upper
case, US rows with the state code or name as ``region``, a fifth of the rows with an
alpha-3 country code, and 2 % misspelt (a letter dropped), which must be rejected.

Measured in the same run, on the same machine:

* ``geocode_file``: the ``innoclusters geocode IN OUT`` path, CSV in and Parquet out
  (read, de-duplicate, geocode, join back, write);
* ``geocode_places`` on the unique places only (what the engine calls);
* baseline ``row by row``: :func:`geocode_places` called once per row without
  de-duplication, timed on a sample and given as rows per second.

The gazetteer index is built (or read from the cache) before timing starts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` city/region/country rows drawn from the gazetteer, as people write them."""
    from innoclusters import places

    rng = np.random.default_rng(seed)
    g = places.load_gazetteer()
    g = g[(g["population"] > 0) & (g["parent"] < 0)]
    p = g["population"].to_numpy(dtype=float)
    pick = g.iloc[rng.choice(len(g), size=n, p=p / p.sum())]
    city = pick["name"].to_numpy(dtype=object).copy()
    plain = rng.random(n) < 0.33
    city[plain] = pick["asciiname"].to_numpy(dtype=object)[plain]
    upper = rng.random(n) < 0.1
    city[upper] = [c.upper() for c in city[upper]]
    typo = rng.random(n) < 0.02
    city[typo] = [c[:1] + c[2:] if len(c) > 3 else c + "xq" for c in city[typo]]
    country = pick["country"].to_numpy(dtype=object).copy()
    alpha3 = rng.random(n) < 0.2
    import pycountry

    to3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
    country[alpha3] = [to3.get(c, c) for c in country[alpha3]]
    region = np.full(n, None, dtype=object)
    us = pick["country"].to_numpy() == "US"
    code = rng.random(n) < 0.5
    region[us & code] = pick["admin1"].to_numpy(dtype=object)[us & code]
    region[us & ~code] = pick["admin1_name"].to_numpy(dtype=object)[us & ~code]
    return pd.DataFrame({"city": city, "region": region, "country": country})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from innoclusters import places

    t = time.perf_counter()
    places.geocode_places(pd.DataFrame({"city": ["Paris"], "country": ["FR"]}))
    warm = time.perf_counter() - t
    rows = make_rows(args.rows, args.seed)
    unique = rows.drop_duplicates().reset_index(drop=True)
    print(f"gazetteer ready in {warm:.2f} s (index load + first lookup)")
    print(f"{len(rows):,} rows, {len(unique):,} distinct places")

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "places.csv"
        rows.to_csv(src, index=False)
        t = time.perf_counter()
        stats = places.geocode_file(src, Path(tmp) / "placed.parquet")
        file_s = time.perf_counter() - t
    print(
        f"geocode_file (CSV in, Parquet out): {file_s:.2f} s, {len(rows) / file_s:,.0f} rows/s; "
        f"geocoded {stats['rate']:.1%} of rows"
    )

    t = time.perf_counter()
    found = places.geocode_places(unique)
    uniq_s = time.perf_counter() - t
    print(
        f"geocode_places on the distinct places: {uniq_s:.2f} s, "
        f"{len(unique) / uniq_s:,.0f} places/s ({found['reason'].isna().mean():.1%} placed)"
    )

    sample = rows.sample(n=min(args.baseline_rows, len(rows)), random_state=args.seed)
    t = time.perf_counter()
    for i in range(len(sample)):
        places.geocode_places(sample.iloc[i : i + 1])
    base_s = time.perf_counter() - t
    base_rate = len(sample) / base_s
    print(
        f"baseline, one geocode_places call per row ({len(sample)} rows): "
        f"{base_rate:,.0f} rows/s; geocode_file is {len(rows) / file_s / base_rate:,.0f}x faster"
    )


if __name__ == "__main__":
    main()
