"""Shared fixtures: small record files written on the fly."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innoclusters.config import UNCERTAINTY_ENV

# Rank uncertainty is on by default (docs/uncertainty.md). Tests that do not test it run
# without it, in this process and in the child processes they start; tests of uncertainty
# ask for their replicates.
os.environ[UNCERTAINTY_ENV] = "0"


def toy_world(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Records of three metrics around a few cities, with exact dyadic structure.

    Every document has 1, 2 or 4 addresses, so fractional weights are exact in binary.
    """
    rng = np.random.default_rng(seed)
    cities = [
        ("Tokyo", "JP", 35.68, 139.69, 120),
        ("Shenzhen", "CN", 22.54, 114.06, 80),
        ("Hong Kong", "HK", 22.32, 114.17, 30),
        ("Boston", "US", 42.36, -71.06, 40),
        ("Basel", "CH", 47.56, 7.59, 30),
    ]
    frames: dict[str, pd.DataFrame] = {}
    for metric, scale in (("patents", 1), ("publications", 3), ("vc", 1)):
        rows = []
        doc = 0
        for name, cc, lat, lon, n in cities:
            for _ in range(n * scale):
                k = 1 if metric == "vc" else int(rng.choice([1, 2, 4]))
                year = int(rng.integers(2018, 2024))
                for _ in range(k):
                    rows.append(
                        (
                            f"{metric[:3]}-{doc}",
                            year,
                            round(lat + rng.normal(0, 0.03), 4),
                            round(lon + rng.normal(0, 0.03), 4),
                            cc,
                            name,
                        )
                    )
                doc += 1
        for _ in range(20):  # scattered noise, far from everything
            rows.append(
                (
                    f"{metric[:3]}-{doc}",
                    2022,
                    round(float(rng.uniform(-40, -10)), 4),
                    round(float(rng.uniform(-60, -40)), 4),
                    "BR",
                    "",
                )
            )
            doc += 1
        frames[metric] = pd.DataFrame(
            rows, columns=["doc_id", "year", "lat", "lon", "country", "city"]
        )
    return frames


@pytest.fixture
def write_world(tmp_path: Path) -> Callable[..., dict[str, list[Path]]]:
    """Write :func:`toy_world` as CSV files (optionally shuffled) and return the sources."""

    def _write(seed: int = 0, shuffle: int | None = None, sub: str = "in") -> dict[str, list[Path]]:
        folder = tmp_path / sub
        folder.mkdir(exist_ok=True)
        sources: dict[str, list[Path]] = {}
        for metric, frame in toy_world(seed).items():
            if shuffle is not None:
                frame = frame.sample(frac=1.0, random_state=shuffle)
            path = folder / f"{metric}.csv"
            frame.to_csv(path, index=False)
            sources[metric] = [path]
        return sources

    return _write


#: Densities that make the toy world's cities clusters and its scattered rows noise.
TOY_DENSITY = {"patents": 8.0, "publications": 20.0, "vc": 4.0}
