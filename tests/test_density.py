"""Tests of the density kernel: toy inputs, invariants, and scikit-learn as the oracle."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors

import innoclusters
from innoclusters.density import MAX_EPS_KM, kernel_compiled, weighted_dbscan
from innoclusters.errors import InputError, SettingsError
from innoclusters.geo import EARTH_RADIUS_KM

# --------------------------------------------------------------------------- helpers


def _rdist(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """scikit-learn's reduced haversine distance of two points given in degrees."""
    a = np.radians(np.array([lat1, lon1]))
    b = np.radians(np.array([lat2, lon2]))
    sin_0 = math.sin(0.5 * (a[0] - b[0]))
    sin_1 = math.sin(0.5 * (a[1] - b[1]))
    return sin_0 * sin_0 + math.cos(a[0]) * math.cos(b[0]) * sin_1 * sin_1


def _includes(eps_km: float, rdist: float) -> bool:
    """Whether scikit-learn counts a pair ``rdist`` apart as within ``eps_km``."""
    half = math.sin(0.5 * (eps_km / EARTH_RADIUS_KM))
    return rdist <= half * half


def _boundary_eps_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The smallest float ``eps_km`` at which scikit-learn counts the pair as neighbours."""
    rdist = _rdist(lat1, lon1, lat2, lon2)
    eps_km = 2.0 * math.asin(math.sqrt(rdist)) * EARTH_RADIUS_KM
    while _includes(eps_km, rdist):
        eps_km = math.nextafter(eps_km, 0.0)
    while not _includes(eps_km, rdist):
        eps_km = math.nextafter(eps_km, math.inf)
    return eps_km


def _oracle(
    lat: np.ndarray, lon: np.ndarray, weight: np.ndarray, eps_km: float, min_weight: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's core mask, labels and eps-neighbourhoods."""
    x = np.radians(np.c_[lat, lon])
    eps = eps_km / EARTH_RADIUS_KM
    db = DBSCAN(eps=eps, min_samples=min_weight, metric="haversine").fit(x, sample_weight=weight)
    core = np.zeros(len(lat), dtype=bool)
    core[db.core_sample_indices_] = True
    hoods = NearestNeighbors(radius=eps, metric="haversine").fit(x).radius_neighbors(x)[1]
    return core, db.labels_, hoods


def _assert_canonical_numbering(
    lat: np.ndarray, lon: np.ndarray, labels: np.ndarray, core: np.ndarray
) -> None:
    """Labels are 0..k-1, numbered by each cluster's smallest core in (lat, lon) order."""
    found = np.unique(labels[labels >= 0])
    np.testing.assert_array_equal(found, np.arange(len(found)))
    assert set(np.unique(labels[core]).tolist()) == set(found.tolist())
    heads = []
    for k in found:
        idx = np.flatnonzero(core & (labels == k))
        heads.append(min(zip(lat[idx].tolist(), lon[idx].tolist(), strict=True)))
    assert heads == sorted(heads)


def _assert_same_partition(a: np.ndarray, b: np.ndarray) -> None:
    """``a`` and ``b`` label the same partition, up to renaming the labels."""
    assert len(a) == len(b)
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    assert len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _assert_matches_oracle(
    lat: np.ndarray, lon: np.ndarray, weight: np.ndarray, eps_km: float, min_weight: int
) -> tuple[np.ndarray, np.ndarray]:
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=eps_km, min_weight=min_weight)
    if not weight.any():  # scikit-learn refuses all-zero weights; nothing can be core
        assert not core.any() and (labels == -1).all()
        return labels, core
    core_o, labels_o, hoods = _oracle(lat, lon, weight, eps_km, min_weight)
    assert labels.dtype == np.int64 and core.dtype == bool
    np.testing.assert_array_equal(core, core_o)
    _assert_same_partition(labels[core], labels_o[core])
    for i in np.flatnonzero(~core):
        near = {int(labels[j]) for j in hoods[i] if core[j]}
        if near:
            assert int(labels[i]) in near, f"border {i} labelled {labels[i]}, cores near {near}"
        else:
            assert labels[i] == -1
    _assert_canonical_numbering(lat, lon, labels, core)
    return labels, core


def _rounded(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rounded to 0.01 degree, latitude clipped, longitude wrapped."""
    lat = np.clip(np.round(lat, 2), -90.0, 90.0)
    lon = np.round((np.asarray(lon) + 180.0) % 360.0 - 180.0, 2)
    return lat + 0.0, lon + 0.0


# --------------------------------------------------------------------------- toy inputs


def test_exported_from_package() -> None:
    assert innoclusters.weighted_dbscan is weighted_dbscan
    assert "weighted_dbscan" in innoclusters.__all__


def test_docstring_example() -> None:
    labels, core = weighted_dbscan(
        [48.00, 48.01, 48.02, 10.0],
        [2.0, 2.0, 2.0, 2.0],
        [1.0, 1.0, 1.0, 5.0],
        eps_km=1.2,
        min_weight=3,
    )
    assert labels.tolist() == [1, 1, 1, 0]
    assert core.tolist() == [False, True, False, True]


def test_toy_two_clusters_border_and_noise() -> None:
    # 0.01 degree of latitude is 1.112 km. Northern group (input first) and southern group.
    lat = np.array([50.00, 50.01, 50.02, 50.05, 40.00, 40.00, 40.01, 0.0])
    lon = np.array([8.00, 8.00, 8.00, 8.00, 3.00, 3.00, 3.00, 0.0])
    weight = np.ones(8)
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=1.2, min_weight=3)
    # 50.01 is core (3 within 1.2 km); 50.00 and 50.02 are its borders; 50.05 is noise.
    # The southern group (two duplicates and a neighbour) is all core and gets label 0.
    assert core.tolist() == [False, True, False, False, True, True, True, False]
    assert labels.tolist() == [1, 1, 1, -1, 0, 0, 0, -1]


def test_chain_of_cores_is_one_cluster() -> None:
    lat = np.round(np.arange(20) * 0.01 + 30.0, 2)
    lon = np.full(20, 100.0)
    labels, core = weighted_dbscan(lat, lon, np.ones(20), eps_km=1.2, min_weight=3)
    assert core.tolist() == [False] + [True] * 18 + [False]
    assert labels.tolist() == [0] * 20


def test_gap_splits_chain() -> None:
    lat = np.r_[np.arange(5) * 0.01, np.arange(5) * 0.01 + 0.03 + 0.04] + 10.0
    lon = np.zeros(10)
    labels, core = weighted_dbscan(lat, lon, np.ones(10), eps_km=1.2, min_weight=2)
    assert core.all()
    assert labels.tolist() == [0] * 5 + [1] * 5


def test_border_between_clusters_goes_to_nearest_core() -> None:
    # Two clusters on the equator's meridian, each a heavy and a light core (A at -0.03 and
    # -0.02, B at +0.02 and +0.03 degrees latitude); eps 2.3 km reaches 0.0207 degree. A light
    # point between them sees one light core of each cluster and is not core itself.
    lat = np.array([-0.03, -0.02, 0.03, 0.02, -0.005])
    lon = np.zeros(5)
    weight = [10.0, 1.0, 10.0, 1.0, 0.5]
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=2.3, min_weight=5)
    assert core.tolist() == [True, True, True, True, False]
    assert labels.tolist() == [0, 0, 1, 1, 0]
    lat[4] = 0.005  # now nearer cluster B
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=2.3, min_weight=5)
    assert core.tolist() == [True, True, True, True, False]
    assert labels.tolist() == [0, 0, 1, 1, 1]
    _assert_matches_oracle(lat, lon, np.array(weight), 2.3, 5)


def test_border_tie_goes_to_lowest_label() -> None:
    # The point at the equator is exactly as far (by symmetry) from a core of each cluster.
    lat = np.array([0.03, 0.02, -0.02, -0.03, 0.0])
    lon = np.zeros(5)
    labels, core = weighted_dbscan(lat, lon, [10.0, 1.0, 1.0, 10.0, 0.5], eps_km=2.3, min_weight=5)
    assert core.tolist() == [True, True, True, True, False]
    assert labels.tolist() == [1, 1, 0, 0, 0]


def test_single_heavy_location_is_its_own_cluster() -> None:
    labels, core = weighted_dbscan([12.34], [56.78], [7.0], eps_km=13.0, min_weight=7.0)
    assert labels.tolist() == [0] and core.tolist() == [True]
    labels, core = weighted_dbscan([12.34], [56.78], [6.5], eps_km=13.0, min_weight=7.0)
    assert labels.tolist() == [-1] and core.tolist() == [False]


def test_empty_input() -> None:
    labels, core = weighted_dbscan([], [], [], eps_km=13.0, min_weight=1.0)
    assert labels.dtype == np.int64 and labels.shape == (0,)
    assert core.dtype == bool and core.shape == (0,)


def test_across_antimeridian_and_over_the_pole() -> None:
    # 179.99 and -179.99 at the equator are 2.2 km apart; so are two points near the
    # north pole on opposite meridians (89.99, 0) and (89.99, 180).
    lat = np.array([0.0, 0.0, 89.99, 89.99, 90.0])
    lon = np.array([179.99, -179.99, 0.0, 180.0, 45.0])
    labels, core = weighted_dbscan(lat, lon, np.ones(5), eps_km=2.3, min_weight=2)
    assert core.all()
    assert labels.tolist() == [0, 0, 1, 1, 1]
    labels, core = weighted_dbscan(lat, lon, np.ones(5), eps_km=2.1, min_weight=2)
    assert labels.tolist() == [-1, -1, 0, 0, 0]  # the pole is 1.1 km from both


def test_huge_eps() -> None:
    # Two antipodal pairs: at half the circumference every point reaches all four; just
    # below it, each reaches three (all but its antipode), and the four still connect.
    lat = np.array([0.0, 0.0, 45.0, -45.0])
    lon = np.array([0.0, 180.0, 90.0, -90.0])
    labels, core = weighted_dbscan(lat, lon, np.ones(4), eps_km=MAX_EPS_KM, min_weight=4)
    assert core.all() and labels.tolist() == [0, 0, 0, 0]
    _assert_matches_oracle(lat, lon, np.ones(4), MAX_EPS_KM, 4)
    labels, core = weighted_dbscan(lat, lon, np.ones(4), eps_km=20000.0, min_weight=4)
    assert not core.any() and labels.tolist() == [-1, -1, -1, -1]
    labels, core = weighted_dbscan(lat, lon, np.ones(4), eps_km=20000.0, min_weight=3)
    assert core.all() and labels.tolist() == [0, 0, 0, 0]
    _assert_matches_oracle(lat, lon, np.ones(4), 20000.0, 3)


# --------------------------------------------------------------------------- boundary


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ((45.00, 7.00), (45.01, 7.00)),
        ((45.00, 7.00), (45.07, 7.05)),
        ((-33.87, 151.21), (-33.95, 151.10)),
        ((0.00, 179.99), (0.00, -179.99)),
        ((89.98, 10.00), (89.99, -170.00)),
        ((-89.99, 0.00), (-90.00, 123.45)),
        ((60.00, 0.00), (60.00, 0.01)),
    ],
)
def test_eps_is_inclusive_at_the_boundary(p: tuple[float, float], q: tuple[float, float]) -> None:
    eps_km = _boundary_eps_km(p[0], p[1], q[0], q[1])
    lat = np.array([p[0], q[0]])
    lon = np.array([p[1], q[1]])
    labels, core = weighted_dbscan(lat, lon, [1.0, 1.0], eps_km=eps_km, min_weight=2)
    assert core.tolist() == [True, True] and labels.tolist() == [0, 0]
    _assert_matches_oracle(lat, lon, np.ones(2), eps_km, 2)
    below = math.nextafter(eps_km, 0.0)
    labels, core = weighted_dbscan(lat, lon, [1.0, 1.0], eps_km=below, min_weight=2)
    assert core.tolist() == [False, False] and labels.tolist() == [-1, -1]
    _assert_matches_oracle(lat, lon, np.ones(2), below, 2)


@pytest.mark.parametrize("centre", [(45.0, 7.0), (0.0, 179.97), (89.95, 30.0), (-89.9, -60.0)])
@pytest.mark.parametrize("steps", [(1, 0), (0, 3), (2, 2), (5, 1)])
def test_lattice_with_eps_at_a_lattice_distance(
    centre: tuple[float, float], steps: tuple[int, int]
) -> None:
    # A 0.01-degree lattice has many pairs at (nearly) the same distance; eps is set exactly
    # at one of them, so hundreds of pairs sit on the boundary within a few ulps.
    g = np.arange(-7, 8) * 0.01
    lat, lon = _rounded(centre[0] + g[:, None] + 0 * g, centre[1] + 0 * g[:, None] + g)
    lat, lon = lat.ravel(), lon.ravel()
    p = (round(centre[0], 2), round(centre[1], 2))
    q = _rounded(np.array([p[0] + 0.01 * steps[0]]), np.array([p[1] + 0.01 * steps[1]]))
    eps_km = _boundary_eps_km(p[0], p[1], float(q[0][0]), float(q[1][0]))
    rng = np.random.default_rng(abs(hash((centre, steps))) % 2**32)
    weight = rng.integers(0, 5, len(lat)) / 4.0
    for min_weight in (1, 3, 6):
        _assert_matches_oracle(lat, lon, weight, eps_km, min_weight)


# --------------------------------------------------------------------------- invariants


def test_input_not_modified_and_read_only_input_accepted() -> None:
    rng = np.random.default_rng(3)
    lat = np.round(rng.normal(35.0, 0.1, 300), 2)
    lon = np.round(rng.normal(139.0, 0.1, 300), 2)
    weight = rng.integers(0, 4, 300) / 2.0
    copies = [a.copy() for a in (lat, lon, weight)]
    for a in (lat, lon, weight):
        a.flags.writeable = False
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=3.0, min_weight=4)
    for a, b in zip((lat, lon, weight), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert core.any() and (labels >= 0).any()
    # Lists and other dtypes give the same answer.
    labels2, core2 = weighted_dbscan(
        lat.tolist(), lon.astype(np.float64).tolist(), weight.tolist(), eps_km=3.0, min_weight=4
    )
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(core, core2)


def test_duplicates_share_core_and_label() -> None:
    rng = np.random.default_rng(5)
    lat = np.round(rng.normal(52.5, 0.05, 200), 2)
    lon = np.round(rng.normal(13.4, 0.05, 200), 2)
    weight = rng.integers(1, 4, 200) / 4.0
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=1.5, min_weight=3)
    groups: dict[tuple[float, float], set[tuple[int, bool]]] = {}
    for la, lo, lab, co in zip(lat, lon, labels, core, strict=True):
        groups.setdefault((la, lo), set()).add((int(lab), bool(co)))
    assert all(len(v) == 1 for v in groups.values())
    assert max(len(np.flatnonzero((lat == k[0]) & (lon == k[1]))) for k in groups) > 1


def test_weight_equals_repetition() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        n = int(rng.integers(5, 120))
        lat, lon = _rounded(rng.normal(-23.5, 0.08, n), rng.normal(-46.6, 0.08, n))
        weight = rng.integers(1, 5, n).astype(float)
        eps_km = float(rng.uniform(0.5, 6.0))
        min_weight = float(rng.integers(1, 12))
        labels, core = weighted_dbscan(lat, lon, weight, eps_km=eps_km, min_weight=min_weight)
        # A location of weight k becomes k locations of weight 1: same core flags and the
        # very same labels (numbering included).
        rep = np.repeat(np.arange(n), weight.astype(int))
        labels_r, core_r = weighted_dbscan(
            lat[rep], lon[rep], np.ones(len(rep)), eps_km=eps_km, min_weight=min_weight
        )
        np.testing.assert_array_equal(core_r, core[rep])
        np.testing.assert_array_equal(labels_r, labels[rep])


def test_zero_weights_add_nothing() -> None:
    # A weightless location alone is noise however low min_weight is.
    labels, core = weighted_dbscan([1.0], [1.0], [0.0], eps_km=5.0, min_weight=1e-9)
    assert labels.tolist() == [-1] and core.tolist() == [False]
    # Next to enough weight it is core itself, but it adds nothing to anyone's sum.
    lat = np.array([1.0, 1.01, 1.02])
    labels, core = weighted_dbscan(lat, np.ones(3), [2.0, 0.0, 0.0], eps_km=1.2, min_weight=2)
    assert core.tolist() == [True, True, False] and labels.tolist() == [0, 0, 0]
    rng = np.random.default_rng(8)
    lat, lon = _rounded(rng.normal(1.3, 0.05, 300), rng.normal(103.8, 0.05, 300))
    weight = rng.integers(1, 5, 300) / 4.0
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=1.0, min_weight=3)
    lat2, lon2 = _rounded(rng.normal(1.3, 0.05, 100), rng.normal(103.8, 0.05, 100))
    _, core2 = weighted_dbscan(
        np.r_[lat, lat2], np.r_[lon, lon2], np.r_[weight, np.zeros(100)], eps_km=1.0, min_weight=3
    )
    np.testing.assert_array_equal(core2[:300], core)


def test_order_independence_with_ties_in_float_sums() -> None:
    # 0.1 + 0.2 + 0.3 + 0.4 is 0.9999999999999999, 1.0 or 1.0000000000000002 depending on the
    # order of addition, and min_weight is exactly 1.0: a kernel summing in input order flips.
    # Group 1: four weights at one place; group 2: the same within 40 m (one grid cell);
    # group 3: spread over 1.5 km (several cells).
    lat = np.r_[[10.0] * 4, 30.0 + np.arange(4) * 1e-4, [50.0, 50.0, 50.01, 50.01]]
    lon = np.r_[[5.0] * 4, [5.0] * 4, [5.0, 5.01, 5.0, 5.01]]
    weight = np.tile([0.1, 0.2, 0.3, 0.4], 3)
    labels0, core0 = weighted_dbscan(lat, lon, weight, eps_km=2.0, min_weight=1.0)
    rng = np.random.default_rng(0)
    for _ in range(60):
        perm = rng.permutation(len(lat))
        labels, core = weighted_dbscan(
            lat[perm], lon[perm], weight[perm], eps_km=2.0, min_weight=1.0
        )
        np.testing.assert_array_equal(core, core0[perm])
        np.testing.assert_array_equal(labels, labels0[perm])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 250),
    eps_km=st.floats(0.5, 40.0),
    min_weight=st.sampled_from([0.3, 1.0, 1.5, 2.0, 10 / 3, 4.0]),
)
def test_shuffling_only_permutes_the_result(
    seed: int, n: int, eps_km: float, min_weight: float
) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.uniform([-60, -180], [70, 180], (4, 2))
    c = rng.integers(0, 4, n)
    lat, lon = _rounded(
        centres[c, 0] + rng.normal(0, 0.1, n), centres[c, 1] + rng.normal(0, 0.1, n)
    )
    weight = rng.choice([0.0, 0.1, 0.2, 0.3, 1 / 3, 1 / 7, 0.5, 1.0], n)
    labels, core = weighted_dbscan(lat, lon, weight, eps_km=eps_km, min_weight=min_weight)
    perm = rng.permutation(n)
    labels_p, core_p = weighted_dbscan(
        lat[perm], lon[perm], weight[perm], eps_km=eps_km, min_weight=min_weight
    )
    np.testing.assert_array_equal(core_p, core[perm])
    np.testing.assert_array_equal(labels_p, labels[perm])
    _assert_canonical_numbering(lat, lon, labels, core)


def test_thread_count_does_not_change_the_result() -> None:
    rng = np.random.default_rng(21)
    n = 5000
    c = rng.integers(0, 30, n)
    centres = rng.uniform([-50, -180], [60, 180], (30, 2))
    lat, lon = _rounded(
        centres[c, 0] + rng.normal(0, 0.2, n), centres[c, 1] + rng.normal(0, 0.2, n)
    )
    weight = rng.uniform(0, 2, n)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = weighted_dbscan(lat, lon, weight, eps_km=8.0, min_weight=12.0)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = weighted_dbscan(lat, lon, weight, eps_km=8.0, min_weight=12.0)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
    assert one[1].sum() > 100 and one[0].max() >= 5


# --------------------------------------------------------------------------- oracle


def _scenario(kind: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random coordinates of one kind of adversarial layout, rounded to 0.01 degree."""
    if kind == "cities":
        centres = rng.uniform([-60, -180], [70, 180], (5, 2))
        c = rng.integers(0, 5, n)
        spread = rng.choice([0.02, 0.05, 0.15], 5)[c]
        return _rounded(
            centres[c, 0] + rng.normal(0, 1, n) * spread,
            centres[c, 1] + rng.normal(0, 1, n) * spread,
        )
    if kind == "poles":
        pole = rng.choice([-1.0, 1.0], n)
        return _rounded(pole * (90.0 - np.abs(rng.normal(0, 0.1, n))), rng.uniform(-180, 180, n))
    if kind == "antimeridian":
        return _rounded(rng.normal(rng.uniform(-70, 70), 0.1, n), 180.0 + rng.normal(0, 0.1, n))
    if kind == "chains":
        start = rng.uniform([-60, -180], [60, 180])
        step = rng.choice([0.01, 0.02, 0.03], 2) * rng.choice([-1, 1], 2)
        k = rng.integers(0, max(1, n // 2), n)
        return _rounded(start[0] + k * step[0], start[1] + k * step[1])
    if kind == "dense":
        centre = rng.uniform([-60, -180], [60, 180])
        k = rng.integers(0, 6, (n, 2)) * 0.01
        return _rounded(centre[0] + k[:, 0], centre[1] + k[:, 1])
    raise AssertionError(kind)


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["cities", "poles", "antimeridian", "chains", "dense"]),
    n=st.integers(1, 300),
    eps_km=st.floats(0.5, 30.0),
    min_weight=st.integers(1, 25),
    weights=st.sampled_from(["quarters", "eighths", "continuous", "with_zeros"]),
)
def test_matches_sklearn_oracle(
    seed: int, kind: str, n: int, eps_km: float, min_weight: int, weights: str
) -> None:
    rng = np.random.default_rng(seed)
    lat, lon = _scenario(kind, rng, n)
    if weights == "quarters":
        weight = rng.integers(1, 9, n) / 4.0
    elif weights == "eighths":
        weight = rng.integers(1, 17, n) / 8.0
    elif weights == "continuous":
        weight = rng.uniform(0.0, 3.0, n)
    else:
        weight = rng.integers(0, 3, n) * rng.integers(0, 2, n) * 1.0
    _assert_matches_oracle(lat, lon, weight, eps_km, min_weight)


@pytest.mark.parametrize("seed", range(6))
def test_matches_sklearn_oracle_with_eps_at_a_pair_distance(seed: int) -> None:
    # eps set exactly at the distance of a random pair of the data, so that pair (and any
    # congruent pair) lies on the boundary.
    rng = np.random.default_rng(100 + seed)
    n = 400
    kind = ["cities", "poles", "antimeridian", "chains", "dense", "cities"][seed]
    lat, lon = _scenario(kind, rng, n)
    weight = rng.integers(0, 9, n) / 4.0
    for _ in range(3):
        i, j = rng.integers(0, n, 2)
        if lat[i] == lat[j] and lon[i] == lon[j]:
            continue
        eps_km = _boundary_eps_km(lat[i], lon[i], lat[j], lon[j])
        if not 1e-3 <= eps_km <= 2000:
            continue
        for min_weight in (1, 2, 5, 12):
            _assert_matches_oracle(lat, lon, weight, eps_km, min_weight)


def test_matches_sklearn_oracle_on_a_larger_city_world() -> None:
    rng = np.random.default_rng(42)
    n = 6000
    centres = rng.uniform([-40, -120], [60, 140], (40, 2))
    size = rng.pareto(1.2, 40) + 1
    c = rng.choice(40, n, p=size / size.sum())
    r = rng.exponential(0.05, n)
    t = rng.uniform(0, 2 * np.pi, n)
    lat, lon = _rounded(centres[c, 0] + r * np.cos(t), centres[c, 1] + r * np.sin(t))
    weight = rng.integers(1, 9, n) / 8.0
    labels, core = _assert_matches_oracle(lat, lon, weight, 4.0, 20)
    assert core.sum() > 500 and labels.max() >= 5


@pytest.mark.parametrize("eps_km", [0.003, 0.02])
def test_matches_sklearn_oracle_at_metre_scale(eps_km: float) -> None:
    # Cells of a few metres: at 3 m the packed cell keys of the whole sphere would not fit
    # in 64 bits and the kernel sorts by the cell indices instead (20 m: packed keys).
    rng = np.random.default_rng(7)
    n = 600
    lat = np.round(48.1 + rng.normal(0, 0.0002, n), 5)
    lon = np.round(11.5 + rng.normal(0, 0.0003, n), 5)
    weight = rng.integers(1, 9, n) / 4.0
    _, core = _assert_matches_oracle(lat, lon, weight, eps_km, 6)
    assert 0 < core.sum() < n


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps_km": 0.0, "min_weight": 1.0}, "eps_km must be a number of km between"),
        ({"eps_km": -3.0, "min_weight": 1.0}, "got -3.0"),
        ({"eps_km": float("nan"), "min_weight": 1.0}, "eps_km"),
        ({"eps_km": 25000.0, "min_weight": 1.0}, "half the Earth's circumference"),
        ({"eps_km": "13", "min_weight": 1.0}, "eps_km"),
        ({"eps_km": True, "min_weight": 1.0}, "eps_km"),
        ({"eps_km": 13.0, "min_weight": 0.0}, "min_weight must be a finite number > 0, got 0.0"),
        ({"eps_km": 13.0, "min_weight": float("inf")}, "min_weight"),
    ],
)
def test_bad_settings_raise_settings_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        weighted_dbscan([1.0], [2.0], [1.0], **kwargs)  # type: ignore[arg-type]


def test_bad_settings_are_reported_together() -> None:
    with pytest.raises(SettingsError) as err:
        weighted_dbscan([1.0], [2.0], [1.0], eps_km=-1.0, min_weight=-1.0)
    assert "eps_km" in str(err.value) and "min_weight" in str(err.value)


@pytest.mark.parametrize(
    ("lat", "lon", "weight", "message"),
    [
        ([1.0, 2.0], [1.0], [1.0, 1.0], "same length; lat has 2, lon has 1, weight has 2"),
        ([[1.0]], [1.0], [1.0], "lat must be one-dimensional"),
        ([91.0, 0.0], [0.0, 0.0], [1.0, 1.0], r"lat must be finite degrees in \[-90, 90\]"),
        ([0.0], [np.nan], [1.0], r"lon must be finite degrees in \[-180, 180\].*index 0: nan"),
        ([0.0], [180.5], [1.0], "lon"),
        ([0.0], [0.0], [-0.5], "weight must be finite and >= 0; 1 value"),
        ([0.0], [0.0], [np.inf], "weight"),
        (["a"], [0.0], [1.0], "lat must be an array of numbers"),
    ],
)
def test_bad_inputs_raise_input_error(
    lat: object, lon: object, weight: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        weighted_dbscan(lat, lon, weight, eps_km=13.0, min_weight=1.0)


def test_bad_inputs_are_reported_together_with_first_indices() -> None:
    lat = np.array([0.0, 95.0, -95.0, 100.0, 120.0, 0.0])
    weight = np.array([1.0, 1.0, 1.0, 1.0, 1.0, -1.0])
    with pytest.raises(InputError) as err:
        weighted_dbscan(lat, np.zeros(6), weight, eps_km=13.0, min_weight=1.0)
    text = str(err.value)
    assert "4 value(s) are not (index 1: 95.0, index 2: -95.0, index 3: 100.0 and 1 more)" in text
    assert "weight must be finite and >= 0; 1 value(s) are not (index 5: -1.0)" in text


def test_kernel_compiled_after_a_first_call() -> None:
    """After one call the kernel is in Numba's on-disk cache: the next run says nothing."""
    weighted_dbscan(np.array([0.0, 0.0]), np.array([0.0, 0.01]), np.ones(2), eps_km=5, min_weight=2)
    assert kernel_compiled()


def test_large_input_sorted_in_parallel_gives_the_same_result() -> None:
    # Above the size where the canonical order is sorted in parallel buckets; duplicates
    # (identical points) and many points per grid cell exercise the ties.
    rng = np.random.default_rng(5)
    n = 80_000
    c = rng.integers(0, 40, n)
    centres = rng.uniform([-50, -180], [60, 180], (40, 2))
    lat, lon = _rounded(
        centres[c, 0] + rng.normal(0, 0.05, n), centres[c, 1] + rng.normal(0, 0.05, n)
    )
    weight = rng.choice([0.25, 0.5, 1.0], n)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = weighted_dbscan(lat, lon, weight, eps_km=2.0, min_weight=40.0)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = weighted_dbscan(lat, lon, weight, eps_km=2.0, min_weight=40.0)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
    perm = rng.permutation(n)
    labels_p, core_p = weighted_dbscan(
        lat[perm], lon[perm], weight[perm], eps_km=2.0, min_weight=40.0
    )
    np.testing.assert_array_equal(core_p, one[1][perm])
    np.testing.assert_array_equal(labels_p, one[0][perm])
    assert 0 < one[1].sum() < n and one[0].max() >= 10
    _assert_canonical_numbering(lat, lon, one[0], one[1])


def test_radians_inside_the_kernel_are_numpys() -> None:
    # The kernel converts degrees itself, multiplying by density._DEG2RAD; that product must be
    # bit for bit np.radians, which the scikit-learn oracle is given.
    rng = np.random.default_rng(11)
    deg = np.concatenate(
        [rng.uniform(-180, 180, 400_000), np.arange(-180, 180.0001, 0.001), [-0.0, 1e-300]]
    )
    np.testing.assert_array_equal(deg * innoclusters.density._DEG2RAD, np.radians(deg))
