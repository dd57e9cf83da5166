"""Sphere geometry: unit vectors as the one formula gives them."""

from __future__ import annotations

import numpy as np

from innoclusters import geo


def _formula(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    c = np.cos(la)
    return np.column_stack((c * np.cos(lo), c * np.sin(lo), np.sin(la)))


def test_unit_vectors_are_the_formula_bit_for_bit_in_blocks_and_on_threads() -> None:
    """Blocks and threads change no bit: large inputs (several threads, uneven blocks),
    small ones, signed zeros, poles and the antimeridian, and scalars (one row)."""
    rng = np.random.default_rng(14)
    n = 2 * geo._PARALLEL_ROWS + 3 * geo._BLOCK_ROWS + 7
    lat = np.round(rng.uniform(-90.0, 90.0, n), 2)
    lon = np.round(rng.uniform(-180.0, 180.0, n), 2)
    lat[:6] = [0.0, -0.0, 90.0, -90.0, 45.0, -45.0]
    lon[:6] = [-0.0, 180.0, -180.0, 0.0, 179.99, -179.99]
    for a, b in ((lat, lon), (lat[:1000], lon[:1000]), (lat[:0], lon[:0])):
        got = geo.unit_vectors(a.tolist() if len(a) == 1000 else a, b)
        want = _formula(a, b)
        assert got.shape == want.shape == (len(a), 3)
        assert got.flags.c_contiguous
        assert got.tobytes() == want.tobytes()
    assert geo.unit_vectors(48.5, 2.25).tobytes() == _formula(48.5, 2.25).tobytes()
