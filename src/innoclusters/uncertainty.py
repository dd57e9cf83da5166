"""Rank uncertainty: how sure is rank 37?

A ranking is one draw of the data through one choice of method. This module redoes the
clustering and ranking many times, each time with other data or another method, and reports
how far each cluster's rank moves.

Sources of uncertainty, kept apart
----------------------------------
* **data**: a bootstrap over *documents*. Each replicate gives every document (a PCT
  application, an article, a deal) a Poisson(1) weight and multiplies its fractional weights
  by it, so a document with five addresses moves all five together. Locations are re-weighted
  with one sparse matrix-vector product over a document-by-location incidence built once
  from the records.
* **method**: draws over the choices the method leaves open, each uniformly within a range
  that is a setting: ``eps_km`` (default 10-16 km), the core density of each metric
  (0.67x-1.5x the run's, log-uniform, each metric on its own), the method (the run's metrics
  with equal weights, or the GII's two-metric method of 2024 and before: patents and
  publications, no VC), the rounding (whole multiples of the run's, 1x, 2x, 5x) and the
  edition window (4, 5 or 6 years ending in the run's last year).
* **both**: replicates drawing the data and the method together.

Each replicate reuses the records' locations and the density kernel
(:func:`innoclusters.density.weighted_dbscan` per metric, as
:func:`innoclusters.areas.cluster_metrics` runs it, and the area rule of
:func:`innoclusters.areas.assign_areas`, run on arrays by :func:`innoclusters.areas.area_index`
without the GIL: the run's own rules); names, footprints and populations are not
recomputed. Before the
kernel runs, locations that cannot matter are set aside, exactly: with a grid of cells of
side ``chord(max eps)``, a location whose 27 neighbouring cells weigh less than its metric's
core density cannot be core, and a location more than two cells from every possible core
cannot be in a cluster or inside its footprint.

Matching
--------
Each replicate's clusters are matched to the nominal ones by the shared-activity rule of
:mod:`innoclusters.matching` (the rule :mod:`innoclusters.compare` uses between editions).
A nominal cluster *exists* in a replicate when it is the predecessor of at least one
replicate cluster (it continues, or it split); its rank there is the best rank among those.
It has *split* when it is the predecessor of two or more replicate clusters, and *merged*
when its successor (the cluster holding most of its activity) has another predecessor: it
was absorbed by a larger cluster and does not exist as a cluster of its own.

Coarser rounding is applied to the run's rounded locations (nested grids: a
0.01° location goes whole into its 0.02° cell, which may differ from rounding the raw
coordinates by one cell at the edges); the replicate's clusters are then mapped back to the
run's locations for matching. Each coarser grid, with its pruning cells, is built once
on first use; a replicate only sums its weights into it.

Summaries
---------
Per nominal cluster and source: median rank, 5th and 95th percentile rank (a replicate where
the cluster does not exist ranks below every cluster; a percentile that falls there is
empty), the probability of being in the top 10 and in the top ``N``, of existing, and the
split and merge rates. ``rank_lo``, ``rank_hi`` and ``p_top`` (from *both*) go into
``clusters.csv``.

Sensitivity: one choice at a time on the nominal data (each other choice at the run's
value), the *swing* of each cluster's rank over that choice's values; and a first-order
index from the method replicates, the variance of the mean rank within bins of the choice
(five quantile bins for ranges, one per value for lists) over the variance of the rank (a
Sobol first-order index estimated by binning, no extra replicates; with 100 replicates its
noise floor is about 0.05).

What-if grid: full runs over ``eps_km`` x density (one multiplier for every metric) x with
and without VC, each cluster with its shares per metric and the nominal cluster it continues,
so a page can re-rank with any metric weights without computing clusters.

Determinism
-----------
Replicate ``i`` of each source draws from its own generator, spawned from
``numpy.random.SeedSequence(seed)``; replicates run in a thread pool and results are
gathered by index, so they do not depend on the thread count. With several threads each
replicate runs the kernel on one Numba thread (the kernel releases the GIL), so replicates,
not the cells of one replicate, share the cores; a Numba threading layer that cannot take
launches from several threads (``workqueue``) gets one kernel call at a time instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import scipy.sparse
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from innoclusters._io import read_manifest
from innoclusters.areas import area_id, area_index, area_peaks
from innoclusters.config import METRICS, Settings, parse_method
from innoclusters.density import concurrent_calls_safe, weighted_dbscan
from innoclusters.errors import InputError, SettingsError
from innoclusters.geo import chord, unit_vectors
from innoclusters.locations import edition_windows
from innoclusters.matching import match_parts
from innoclusters.records import RecordSet, read_records
from innoclusters.result import RunResult

__all__ = [
    "FATES",
    "SOURCES",
    "Choice",
    "Uncertainty",
    "estimate",
    "interval_text",
    "recorded_uncertainty",
    "report_columns",
    "uncertainty",
]

#: Sources of replicates, in output order.
SOURCES: tuple[str, ...] = ("data", "method", "both")

#: Fate codes of a nominal cluster in a replicate.
FATES: tuple[str, ...] = ("continues", "split", "merged", "vanished")

#: Bins of a continuous choice for the first-order index.
_BINS = 5


@dataclasses.dataclass(frozen=True)
class Choice:
    """One choice of method for a replicate.

    Attributes
    ----------
    eps_km
        DBSCAN radius.
    density
        Multiplier of each metric's core density (1 is the run's).
    method
        Metric weights; the metrics named are clustered and ranked.
    rounding_factor
        The replicate's rounding as a whole multiple of the run's.
    window_years
        Window length per metric (years ending in the run's last year); ``None`` is the
        run's window.
    """

    eps_km: float
    density: tuple[tuple[str, float], ...]
    method: tuple[tuple[str, float], ...]
    rounding_factor: int = 1
    window_years: int | None = None


@dataclasses.dataclass
class Uncertainty:
    """Everything :func:`estimate` measured.

    Attributes
    ----------
    clusters
        One row per nominal cluster in rank order: ``rank, cluster_id, name``, then per
        source ``<source>_median_rank, <source>_rank_p5, <source>_rank_p95,
        <source>_p_top10, <source>_p_top, <source>_p_exists, <source>_split_rate,
        <source>_merge_rate``, then ``rank_lo, rank_hi, p_top`` (from ``both``) and
        ``top_uncertain`` (``p_top`` strictly between 0.1 and 0.9).
    sensitivity
        One row per nominal cluster and choice: ``rank, cluster_id, name, choice,
        values, rank_min, rank_max, swing, vanishes, first_order``.
    whatif
        One row per cluster of each what-if run: ``eps_km, density, vc, cluster_id,
        nominal_id`` (the nominal cluster it continues, empty when new), ``name`` and the
        shares in percent per metric.
    replicates
        One row per replicate and nominal cluster: ``source, replicate, cluster_id, rank``
        (0 when it does not exist), ``fate``.
    draws
        One row per method or both replicate: its choices.
    settings
        The ranges and counts used (JSON-ready).
    """

    clusters: pd.DataFrame
    sensitivity: pd.DataFrame
    whatif: pd.DataFrame
    replicates: pd.DataFrame
    draws: pd.DataFrame
    settings: dict[str, Any]


# --- the prepared world -------------------------------------------------------------------


@dataclasses.dataclass
class _World:
    """Locations, documents and the nominal clusters, prepared once."""

    metric: np.ndarray  # int8 code into METRICS, per location
    li: np.ndarray  # int64 grid indices at the run's rounding
    lo: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    incidence: scipy.sparse.csr_matrix  # locations x documents, record weights
    age: np.ndarray  # per stored entry of incidence: last year of its metric - year
    base: dict[int, np.ndarray]  # window length (0: the run's) -> location weights
    nominal_window: np.ndarray  # per entry: inside the run's window
    nominal_cluster: np.ndarray  # int code into nominal_ids, -1 outside every area
    nominal_activity: np.ndarray
    nominal_ids: list[str]
    nominal_rank: dict[str, int]
    prune_eps_km: float
    grids: dict[int, _Grid] = dataclasses.field(default_factory=dict)  # rounding factor ->
    grid_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@dataclasses.dataclass
class _Grid:
    """The run's locations on a grid ``factor`` times coarser, with pruning cells.

    Built once per rounding factor; a replicate only sums its weights into it. The
    coarse grid is nested in the run's (a location goes whole into its coarse cell).
    """

    of_fine: np.ndarray  # per run location: its coarse location
    metric: np.ndarray  # int8 code into METRICS, per coarse location
    lat: np.ndarray
    lon: np.ndarray
    xyz: np.ndarray  # unit vectors per coarse location
    cell: np.ndarray  # pruning cell per coarse location
    near1: scipy.sparse.csr_matrix  # cells x cells within one cell (Chebyshev)


def _grid_sql(rounding: float) -> tuple[str, str]:
    west = round(-180.0 / rounding)
    lon_i = f"CAST(round(lon / {rounding!r}) AS BIGINT)"
    li = f"CAST(round(lat / {rounding!r}) AS BIGINT)"
    lo = f"CASE WHEN {lon_i} * {rounding!r} >= 180.0 THEN {west} ELSE {lon_i} END"
    return li, lo


def _cells(lat: np.ndarray, lon: np.ndarray, eps_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell of side ``chord(eps_km)`` of each location (3-D grid on unit vectors)."""
    side = float(chord(eps_km))
    ijk = np.floor(unit_vectors(lat, lon) / side).astype(np.int64)
    if not len(ijk):
        return np.empty((0, 3), dtype=np.int64), np.empty(0, dtype=np.int64)
    base = ijk - ijk.min(axis=0)
    span = base.max(axis=0) + 1
    code = (base[:, 0] * span[1] + base[:, 1]) * span[2] + base[:, 2]
    _, first, cell = np.unique(code, return_index=True, return_inverse=True)
    return ijk[first], cell.reshape(-1)


def _near(keys: np.ndarray, reach: int) -> scipy.sparse.csr_matrix:
    """Cells x cells, 1 where two cells are within ``reach`` cells on every axis."""
    n = len(keys)
    span = keys.max(axis=0) - keys.min(axis=0) + 2 * reach + 1
    base = keys - keys.min(axis=0) + reach
    code = (base[:, 0] * span[1] + base[:, 1]) * span[2] + base[:, 2]
    order = np.argsort(code)
    sorted_code = code[order]
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            for dz in range(-reach, reach + 1):
                target = code + (dx * span[1] + dy) * span[2] + dz
                pos = np.searchsorted(sorted_code, target)
                pos = np.minimum(pos, n - 1)
                hit = sorted_code[pos] == target
                rows.append(np.flatnonzero(hit))
                cols.append(order[pos[hit]])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    return scipy.sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))


def _prepare(
    records: RecordSet,
    result: RunResult,
    windows: Mapping[str, tuple[int, int]],
    *,
    longest_window: int,
    prune_eps_km: float,
) -> _World:
    """Build the incidence of documents on locations and the nominal clusters' arrays."""
    records.require("doc_id", purpose="rank uncertainty (it resamples documents)")
    settings = result.settings
    con = records.connection
    li, lo = _grid_sql(settings.rounding)
    spans = pd.DataFrame(
        [
            (m, min(a, b - longest_window + 1), a, b)
            for m, (a, b) in windows.items()
            if m in result.metrics
        ],
        columns=["metric", "wide_first", "first", "last"],
    )
    con.register("_unc_win", spans)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _unc_entries AS
            SELECT r.metric, r.doc_id, {li} AS li, {lo} AS lo,
              CAST(w.last - r.year AS SMALLINT) AS age,
              (r.year >= w.first) AS nominal, sum(r.weight) AS w
            FROM records AS r JOIN _unc_win AS w ON r.metric = w.metric
            WHERE r.year BETWEEN w.wide_first AND w.last
            GROUP BY ALL"""
        )
        locs = con.execute(
            f"""SELECT metric, li, lo,
              round(CAST(li AS DOUBLE) * {settings.rounding!r}, {_decimals(settings.rounding)})
                AS lat,
              CASE WHEN lo = {round(-180.0 / settings.rounding)} THEN -180.0
                ELSE round(CAST(lo AS DOUBLE) * {settings.rounding!r},
                           {_decimals(settings.rounding)}) END AS lon
            FROM (SELECT DISTINCT metric, li, lo FROM _unc_entries)
            ORDER BY metric, li, lo"""
        ).df()
        entries = con.execute(
            """WITH l AS (SELECT metric, li, lo,
                 CAST(row_number() OVER (ORDER BY metric, li, lo) - 1 AS INTEGER) AS loc
                 FROM (SELECT DISTINCT metric, li, lo FROM _unc_entries)),
               d AS (SELECT metric, doc_id,
                 CAST(row_number() OVER (ORDER BY metric, doc_id) - 1 AS INTEGER) AS doc
                 FROM (SELECT DISTINCT metric, doc_id FROM _unc_entries))
            SELECT l.loc, d.doc, e.age, e.nominal, e.w
            FROM _unc_entries AS e JOIN l USING (metric, li, lo) JOIN d USING (metric, doc_id)
            ORDER BY l.loc, d.doc, e.age"""
        ).fetchnumpy()
        n_docs = int(
            con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT metric, doc_id FROM _unc_entries)"
            ).fetchone()[0]  # type: ignore[index]
        )
    finally:
        con.execute("DROP TABLE IF EXISTS _unc_entries")
        con.unregister("_unc_win")
    n_loc = len(locs)
    loc_i = np.asarray(entries["loc"], dtype=np.int64)
    doc_i = np.asarray(entries["doc"], dtype=np.int64)
    weight = np.asarray(entries["w"], dtype=np.float64)
    age = np.asarray(entries["age"], dtype=np.int16)
    nominal_window = np.asarray(entries["nominal"], dtype=bool)
    # Entries are sorted by (location, document): build CSR directly so that the stored
    # order (and so every row sum) is fixed.
    indptr = np.zeros(n_loc + 1, dtype=np.int64)
    np.cumsum(np.bincount(loc_i, minlength=n_loc), out=indptr[1:])
    incidence = scipy.sparse.csr_matrix((weight, doc_i, indptr), shape=(n_loc, n_docs))
    metric = pd.Categorical(locs["metric"], categories=list(METRICS)).codes.astype(np.int8)
    lat = locs["lat"].to_numpy(dtype=float)
    lon = locs["lon"].to_numpy(dtype=float)
    li_a = locs["li"].to_numpy(dtype=np.int64)
    lo_a = locs["lo"].to_numpy(dtype=np.int64)
    base = {0: _row_sums(incidence, weight * nominal_window)}

    # The nominal clusters on these locations (by metric and grid index).
    located = result.locations
    inside = located[located["cluster_id"].notna()]
    ids = sorted(str(c) for c in inside["cluster_id"].unique())
    code_of = {c: i for i, c in enumerate(ids)}
    key_world = pd.MultiIndex.from_arrays([metric, li_a, lo_a])
    n_metric = pd.Categorical(inside["metric"], categories=list(METRICS)).codes.astype(np.int8)
    n_li = np.rint(inside["lat"].to_numpy(dtype=float) / settings.rounding).astype(np.int64)
    n_lo_raw = np.rint(inside["lon"].to_numpy(dtype=float) / settings.rounding).astype(np.int64)
    west = round(-180.0 / settings.rounding)
    n_lo = np.where(n_lo_raw * settings.rounding >= 180.0, west, n_lo_raw)
    pos = key_world.get_indexer(pd.MultiIndex.from_arrays([n_metric, n_li, n_lo]))
    found = pos >= 0
    nominal_cluster = np.full(n_loc, -1, dtype=np.int64)
    nominal_activity = np.zeros(n_loc)
    nominal_cluster[pos[found]] = [code_of[str(c)] for c in inside["cluster_id"].to_numpy()[found]]
    nominal_activity[pos[found]] = inside["activity"].to_numpy(dtype=float)[found]
    rank = {
        str(c): int(r)
        for c, r in zip(result.clusters["cluster_id"], result.clusters["rank"], strict=True)
    }
    return _World(
        metric=metric,
        li=li_a,
        lo=lo_a,
        lat=lat,
        lon=lon,
        incidence=incidence,
        age=age,
        base=base,
        nominal_window=nominal_window,
        nominal_cluster=nominal_cluster,
        nominal_activity=nominal_activity,
        nominal_ids=ids,
        nominal_rank=rank,
        prune_eps_km=prune_eps_km,
    )


def _grid_of(world: _World, factor: int, rounding: float) -> _Grid:
    """The coarse grid of ``factor`` (built once, on first use; 1 is the run's own)."""
    with world.grid_lock:
        found = world.grids.get(factor)
        if found is None:
            found = _build_grid(world, factor, rounding)
            world.grids[factor] = found
    return found


def _build_grid(world: _World, factor: int, rounding: float) -> _Grid:
    if factor == 1:
        of_fine = np.arange(len(world.metric), dtype=np.int64)
        metric, lat, lon = world.metric, world.lat, world.lon
    else:
        ci = np.floor(world.li / factor + 0.5).astype(np.int64)
        co = np.floor(world.lo / factor + 0.5).astype(np.int64)
        step = rounding * factor
        west = round(-180.0 / step)
        co = np.where(co * step >= 180.0, west, co)
        # One sortable key per (metric, lat index, lon index): nested, so the coarse
        # locations come out in (metric, lat, lon) index order.
        ci0 = ci - ci.min()
        co0 = co - co.min()
        span_i = int(ci0.max()) + 1
        span_o = int(co0.max()) + 1
        key = (world.metric.astype(np.int64) * span_i + ci0) * span_o + co0
        uniq, of_fine = np.unique(key, return_inverse=True)
        of_fine = of_fine.reshape(-1).astype(np.int64)
        first = np.zeros(len(uniq), dtype=np.int64)
        first[of_fine[::-1]] = np.arange(len(of_fine))[::-1]
        metric = world.metric[first]
        dec = _decimals(step)
        lat = np.round(ci[first] * step, dec)
        lon = np.where(co[first] == west, -180.0, np.round(co[first] * step, dec))
    keys, cell = _cells(lat, lon, world.prune_eps_km)
    grid = _Grid(
        of_fine=of_fine,
        metric=metric,
        lat=lat,
        lon=lon,
        xyz=unit_vectors(lat, lon),
        cell=cell,
        near1=_near(keys, 1),
    )
    return grid


def _decimals(rounding: float) -> int:
    return max(0, math.ceil(-math.log10(rounding))) + 3


def _row_sums(incidence: scipy.sparse.csr_matrix, data: np.ndarray) -> np.ndarray:
    """Per location, the sum of ``data`` over its stored entries (in stored order).

    The sums SciPy's ``csr_matrix.sum(axis=1)`` gives (``np.add.reduceat`` over the
    non-empty rows), without building a matrix per replicate.
    """
    indptr = incidence.indptr
    out = np.zeros(len(indptr) - 1)
    rows = np.flatnonzero(np.diff(indptr))
    if len(rows):
        out[rows] = np.add.reduceat(data, indptr[rows])
    return out


def _window_weights(world: _World, years: int | None) -> np.ndarray:
    """Location weights of the entries inside a window of ``years`` (None: the run's)."""
    key = 0 if years is None else int(years)
    if key not in world.base:
        world.base[key] = _row_sums(world.incidence, world.incidence.data * (world.age < key))
    return world.base[key]


def _entry_mask(world: _World, years: int | None) -> np.ndarray:
    return world.nominal_window if years is None else world.age < int(years)


# --- one replicate --------------------------------------------------------------------------


@dataclasses.dataclass
class _Outcome:
    rank: np.ndarray  # per nominal cluster: rank in the replicate, 0 when it does not exist
    fate: np.ndarray  # per nominal cluster: index into FATES
    clusters: pd.DataFrame | None = None  # for what-if runs


def _replicate(
    world: _World,
    weights: np.ndarray,
    choice: Choice,
    settings: Settings,
    *,
    keep_clusters: bool = False,
    kernel_lock: contextlib.AbstractContextManager[Any] | None = None,
) -> _Outcome:
    """Cluster, rank and match one replicate given its location weights."""
    method = dict(choice.method)
    totals = {
        m: float(weights[world.metric == METRICS.index(m)].sum())
        for m in METRICS
        if method.get(m, 0.0) > 0
    }  # noise included
    metrics = tuple(m for m, t in totals.items() if t > 0)
    codes = np.array([METRICS.index(m) for m in metrics], dtype=np.int8)
    use = np.isin(world.metric, codes) & (weights > 0)
    density = dict(choice.density)
    min_weight = {
        m: settings.density_for(m, totals[m]) * float(density.get(m, 1.0)) for m in metrics
    }
    factor = int(choice.rounding_factor)
    grid = _grid_of(world, factor, settings.rounding)
    if factor == 1:
        grid_weights = weights
    else:
        grid_weights = np.bincount(grid.of_fine, weights=weights, minlength=len(grid.metric))
    grid_use = np.isin(grid.metric, codes) & (grid_weights > 0)
    clustered, labels, grid_row = _pruned(
        grid,
        grid_weights,
        grid_use,
        min_weight,
        eps_km=choice.eps_km,
        kernel_lock=kernel_lock or contextlib.nullcontext(),
    )
    # Each of the run's locations in use takes its (coarse) row.
    fine_row = np.where(use, grid_row[grid.of_fine], -1)
    rows = clustered
    if len(rows):
        # The rule of areas.assign_areas on arrays (compiled, without the GIL); only the
        # areas' ids are made in Python.
        area = area_index(
            grid.xyz[rows],
            grid.lat[rows],
            grid.lon[rows],
            grid.metric[rows],
            labels[rows],
            eps_km=float(choice.eps_km),
        )
        scale_row = np.zeros(len(METRICS))
        for m in metrics:
            scale_row[METRICS.index(m)] = 100.0 * float(method[m]) / totals[m]
        peaks = area_peaks(
            area, grid_weights[rows] * scale_row[grid.metric[rows]], grid.lat[rows], grid.lon[rows]
        )
        rounding = settings.rounding * factor
        ids = np.array(
            [
                area_id(la, lo, rounding=rounding)
                for la, lo in zip(grid.lat[rows[peaks]], grid.lon[rows[peaks]], strict=True)
            ],
            dtype=str,
        )
    else:
        area = np.empty(0, dtype=np.int64)
        ids = np.empty(0, dtype=str)
    # Replicate clusters numbered in id order.
    by_id = np.argsort(ids, kind="stable")
    rep_ids = ids[by_id]
    renumber = np.empty(len(by_id) + 1, dtype=np.int64)
    renumber[by_id] = np.arange(len(by_id))
    renumber[-1] = -1
    row_code = renumber[area]
    # Back to the run's locations: each location takes its (coarse) row's cluster.
    # (A replicate may have no cluster at all: then row_code is empty.)
    rep_cluster = np.full(len(fine_row), -1, dtype=np.int64)
    kept = fine_row >= 0
    rep_cluster[kept] = row_code[fine_row[kept]]
    scale = np.zeros(len(METRICS))
    for m in metrics:
        if totals[m] > 0:
            scale[METRICS.index(m)] = 100.0 * float(method[m]) / totals[m]
    rep_activity = weights * scale[world.metric]
    k = len(rep_ids)
    member = rep_cluster >= 0
    score = np.bincount(rep_cluster[member], weights=rep_activity[member], minlength=k)
    order = sorted(range(k), key=lambda i: (-score[i], rep_ids[i]))
    rep_rank = np.empty(k, dtype=np.int64)
    rep_rank[order] = np.arange(1, k + 1)
    outcome, current = _match(world, rep_ids, rep_cluster, rep_activity, rep_rank)
    if keep_clusters:
        outcome.clusters = _shares(world, rep_ids, rep_cluster, weights, totals, current)
    return outcome


def _pruned(
    grid: _Grid,
    weights: np.ndarray,
    use: np.ndarray,
    min_weight: Mapping[str, float],
    *,
    eps_km: float,
    kernel_lock: contextlib.AbstractContextManager[Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metric clusters of the locations that can matter, exactly (see the module text).

    Per metric, a cell is a *candidate* when it holds locations of the metric and its 27
    neighbouring cells weigh at least the metric's core density: every core location lies
    in a candidate cell, and its neighbours within ``eps_km`` lie next to it. The kernel
    runs on the metric's locations next to a candidate cell; then the locations next to a
    cell holding a member of any metric cluster (so within ``eps_km / 2`` of one) are kept
    for the areas. Everything else is noise outside every area.

    Returns
    -------
    rows : numpy.ndarray
        The grid's locations kept (members and the locations near them).
    labels : numpy.ndarray
        Metric cluster of each of the grid's locations (-1: noise).
    row : numpy.ndarray
        Position in ``rows`` of each of the grid's locations, -1 when not kept.
    """
    n_cells = grid.near1.shape[0]
    labels = np.full(len(weights), -1, dtype=np.int64)
    for m, threshold in min_weight.items():
        mine = use & (grid.metric == METRICS.index(m))
        per_cell = np.bincount(grid.cell[mine], weights=weights[mine], minlength=n_cells)
        # Sums of floats in another order than the kernel's: a margin keeps every core.
        candidate = ((grid.near1 @ per_cell) >= threshold * (1 - 1e-9)) & (per_cell > 0)
        reach = (grid.near1 @ candidate.astype(np.float64)) > 0
        rows = np.flatnonzero(mine & reach[grid.cell])
        if len(rows) and threshold > 0:
            with kernel_lock:
                lab, _ = weighted_dbscan(
                    grid.lat[rows],
                    grid.lon[rows],
                    weights[rows],
                    eps_km=eps_km,
                    min_weight=threshold,
                )
            labels[rows] = lab
    member_cells = np.bincount(grid.cell[labels >= 0], minlength=n_cells) > 0
    halo = (grid.near1 @ member_cells.astype(np.float64)) > 0
    rows = np.flatnonzero(use & halo[grid.cell])
    fine_row = np.full(len(weights), -1, dtype=np.int64)
    fine_row[rows] = np.arange(len(rows))
    return rows, labels, fine_row


def _match(
    world: _World,
    rep_ids: np.ndarray,
    rep_cluster: np.ndarray,
    rep_activity: np.ndarray,
    rep_rank: np.ndarray,
) -> tuple[_Outcome, pd.DataFrame]:
    """Match a replicate's clusters to the nominal ones (shared activity)."""
    n_nom = len(world.nominal_ids)
    k = len(rep_ids)
    nom = world.nominal_cluster
    shared = (rep_cluster >= 0) & (nom >= 0)
    rep_member = rep_cluster >= 0
    cur_total = np.bincount(rep_cluster[rep_member], weights=rep_activity[rep_member], minlength=k)
    nom_member = nom >= 0
    prev_total = np.bincount(
        nom[nom_member], weights=world.nominal_activity[nom_member], minlength=n_nom
    )
    pair = rep_cluster[shared] * n_nom + nom[shared]
    uniq, inv = np.unique(pair, return_inverse=True)
    up_sum = np.bincount(inv, weights=rep_activity[shared], minlength=len(uniq))
    down_sum = np.bincount(inv, weights=world.nominal_activity[shared], minlength=len(uniq))
    b = uniq // n_nom
    a = uniq % n_nom
    nominal_ids = np.asarray(world.nominal_ids, dtype=object)
    cur_names = rep_ids.astype(object)
    with np.errstate(divide="ignore", invalid="ignore"):
        up_part = np.where(cur_total[b] > 0, up_sum / cur_total[b], 0.0)
        down_part = np.where(prev_total[a] > 0, down_sum / prev_total[a], 0.0)
    up = pd.DataFrame(
        {"cluster_id": cur_names[b], "previous_cluster_id": nominal_ids[a], "part": up_part}
    )
    down = pd.DataFrame(
        {"previous_cluster_id": nominal_ids[a], "cluster_id": cur_names[b], "part": down_part}
    )
    cur_rank = {str(i): int(r) for i, r in zip(rep_ids, rep_rank, strict=True)}
    current, previous = match_parts(
        up,
        down,
        current_ids=list(cur_names),
        previous_ids=world.nominal_ids,
        current_rank=cur_rank,
        previous_rank=world.nominal_rank,
    )
    rank = np.zeros(n_nom, dtype=np.int64)
    fate = np.zeros(n_nom, dtype=np.int8)
    code_of = {c: i for i, c in enumerate(world.nominal_ids)}
    for pid, fate_name, kids in zip(
        previous["previous_cluster_id"], previous["fate"], previous["continued_by"], strict=True
    ):
        i = code_of[pid]
        fate[i] = FATES.index(fate_name)
        if kids:
            rank[i] = min(cur_rank[c] for c in kids.split(";"))
    return _Outcome(rank=rank, fate=fate), current


def _shares(
    world: _World,
    rep_ids: np.ndarray,
    rep_cluster: np.ndarray,
    weights: np.ndarray,
    totals: Mapping[str, float],
    current: pd.DataFrame,
) -> pd.DataFrame:
    """Shares per metric of each replicate cluster, and the nominal cluster it continues."""
    k = len(rep_ids)
    frame = pd.DataFrame({"cluster_id": rep_ids.astype(str)})
    member = rep_cluster >= 0
    for j, m in enumerate(METRICS):
        mine = member & (world.metric == j)
        count = np.bincount(rep_cluster[mine], weights=weights[mine], minlength=k)
        total = totals.get(m, 0.0)
        frame[f"{m}_share"] = 100.0 * count / total if total > 0 else 0.0
    pred = dict(zip(current["cluster_id"], current["previous_cluster_id"], strict=True))
    frame["nominal_id"] = [
        p if isinstance(p := pred.get(c), str) else "" for c in frame["cluster_id"]
    ]
    return frame


# --- drawing choices -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Ranges:
    eps_km: tuple[float, float]
    density: tuple[float, float]
    methods: tuple[tuple[tuple[str, float], ...], ...]
    rounding_factors: tuple[int, ...]
    window_years: tuple[int, ...]
    nominal: Choice


def _ranges(settings: Settings, metrics: Sequence[str]) -> _Ranges:
    """The ranges of the method draws, checked against the run."""
    lo, hi = settings.uncertainty_eps_km
    dlo, dhi = settings.uncertainty_density
    own = tuple((m, settings.weight_of(m)) for m in metrics)
    methods: list[tuple[tuple[str, float], ...]] = []
    for text in settings.uncertainty_methods:
        method = own if not text.strip() else tuple(parse_method(text).items())
        method = tuple((m, w) for m, w in method if m in metrics)
        if not any(w > 0 for _, w in method):
            continue
        if method not in methods:
            methods.append(method)
    factors = list(dict.fromkeys(int(f) for f in settings.uncertainty_rounding_factors))
    nominal = Choice(
        eps_km=settings.eps_km,
        density=tuple((m, 1.0) for m in metrics),
        method=own,
        rounding_factor=1,
        window_years=None,
    )
    return _Ranges(
        eps_km=(float(lo), float(hi)),
        density=(float(dlo), float(dhi)),
        methods=tuple(methods) or (own,),
        rounding_factors=tuple(factors) or (1,),
        window_years=tuple(int(y) for y in settings.uncertainty_window_years),
        nominal=nominal,
    )


def _draw(rng: np.random.Generator, ranges: _Ranges, metrics: Sequence[str]) -> Choice:
    eps = float(rng.uniform(*ranges.eps_km))
    llo, lhi = math.log(ranges.density[0]), math.log(ranges.density[1])
    density = tuple((m, float(math.exp(rng.uniform(llo, lhi)))) for m in metrics)
    method = ranges.methods[int(rng.integers(len(ranges.methods)))]
    factor = ranges.rounding_factors[int(rng.integers(len(ranges.rounding_factors)))]
    years = (
        ranges.window_years[int(rng.integers(len(ranges.window_years)))]
        if ranges.window_years
        else None
    )
    return Choice(eps, density, method, factor, years)


# --- running ---------------------------------------------------------------------------------


def _progress(total: int, enabled: bool) -> tuple[Callable[[], None], Callable[[], None]]:
    """A Rich progress bar on stderr: runs done (replicates and what-if runs), elapsed and
    remaining time."""
    if not enabled or total == 0:
        return (lambda: None), (lambda: None)
    bar = Progress(
        TextColumn("Rank uncertainty runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("replicates", total=total)
    bar.start()
    return (lambda: bar.advance(task)), bar.stop


def _workers(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)


def estimate(
    records: RecordSet,
    result: RunResult,
    *,
    windows: Mapping[str, tuple[int, int]],
    replicates: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    whatif: bool = True,
    kinds: Sequence[str] = SOURCES,
    progress: bool = False,
) -> Uncertainty:
    """Rank uncertainty of a finished run: data bootstrap, method draws and both.

    Parameters
    ----------
    records
        The run's accepted records (the documents are resampled).
    result
        The run (its settings, ranked clusters and located locations).
    windows
        The run's window per metric.
    replicates
        Replicates per source (default the setting ``uncertainty``).
    seed
        Seed of every draw (default the setting ``uncertainty_seed``).
    workers
        Threads (default the setting ``workers``; 0 means all cores). Results do not
        depend on it.
    whatif
        Also compute the what-if grid and the one-at-a-time sensitivity runs.
    kinds
        The sources of replicates to draw, among :data:`SOURCES` (all by default; the
        summary has columns for these only, and ``rank_lo``, ``rank_hi`` and ``p_top`` come
        from the last one). A replicate's draws do not depend on which others are made.
    progress
        Show a progress bar on stderr.

    Returns
    -------
    Uncertainty
    """
    settings = result.settings
    n = int(settings.uncertainty if replicates is None else replicates)
    if n < 1 and kinds:
        raise SettingsError(f"setting 'uncertainty' must be a whole number >= 1, got {n!r}")
    seed = int(settings.uncertainty_seed if seed is None else seed)
    threads = _workers(int(settings.workers if workers is None else workers))
    metrics = tuple(result.metrics)
    ranges = _ranges(settings, metrics)
    longest = max([*ranges.window_years, *(b - a + 1 for a, b in windows.values())])
    eps_values = _grid(ranges.eps_km, settings.eps_km, settings.uncertainty_grid)
    world = _prepare(
        records,
        result,
        windows,
        longest_window=longest,
        prune_eps_km=max(ranges.eps_km[1], settings.eps_km, *eps_values),
    )
    for years in ranges.window_years:
        _window_weights(world, years)
    streams = np.random.SeedSequence(seed).spawn(len(SOURCES))
    jobs: list[tuple[str, int, np.random.SeedSequence | None, Choice | None]] = []
    unknown = [k for k in kinds if k not in SOURCES]
    if unknown:
        raise SettingsError(f"unknown uncertainty source(s) {unknown}; use {', '.join(SOURCES)}")
    chosen = tuple(k for k in SOURCES if k in kinds)
    for source, stream in zip(SOURCES, streams, strict=True):
        if source not in chosen:
            continue
        for i, child in enumerate(stream.spawn(n)):
            jobs.append((source, i, child, None))
    grid_choices = _whatif_choices(settings, metrics, ranges) if whatif else {}
    oat = _oat_choices(settings, metrics, ranges) if whatif else {}
    fixed = list(dict.fromkeys([*grid_choices.values(), *(c for cs in oat.values() for c in cs)]))
    for j, choice in enumerate(fixed):
        jobs.append(("fixed", j, None, choice))

    # With several threads, each replicate runs the kernel on its own thread (Numba's
    # thread count is per thread), so the replicates share the cores; a threading layer
    # that cannot take concurrent launches gets one kernel call at a time instead.
    concurrent = threads > 1 and concurrent_calls_safe()
    lock: contextlib.AbstractContextManager[Any] = (
        threading.Lock() if threads > 1 and not concurrent else contextlib.nullcontext()
    )

    def job(spec: tuple[str, int, np.random.SeedSequence | None, Choice | None]) -> Any:
        source, _, child, choice = spec
        if concurrent:
            numba.set_num_threads(1)
        if source == "fixed":
            assert choice is not None
            w = _window_weights(world, choice.window_years)
            return choice, _replicate(
                world, w, choice, settings, keep_clusters=True, kernel_lock=lock
            )
        assert child is not None
        rng = np.random.default_rng(child)
        choice = _draw(rng, ranges, metrics) if source != "data" else ranges.nominal
        if source == "method":
            w = _window_weights(world, choice.window_years)
        else:
            k = rng.poisson(1.0, world.incidence.shape[1]).astype(np.float64)
            mask = _entry_mask(world, choice.window_years)
            data = world.incidence.data * k[world.incidence.indices] * mask
            w = _row_sums(world.incidence, data)
        return choice, _replicate(world, w, choice, settings, kernel_lock=lock)

    advance, stop = _progress(len(jobs), progress)
    start = time.perf_counter()
    try:
        # One thread more than the cores when the kernel runs on one Numba thread per
        # replicate: while one replicate holds the GIL (matching, Python bookkeeping), the
        # others' compiled steps, which release it, keep every core busy.
        with ThreadPoolExecutor(max_workers=threads + 1 if concurrent else threads) as pool:
            futures = [pool.submit(job, spec) for spec in jobs]
            outcomes = []
            for f in futures:
                outcomes.append(f.result())
                advance()
    finally:
        stop()
    elapsed = time.perf_counter() - start
    by_source: dict[str, list[tuple[Choice, _Outcome]]] = {s: [] for s in chosen}
    fixed_out: dict[Choice, _Outcome] = {}
    for spec, out in zip(jobs, outcomes, strict=True):
        if spec[0] == "fixed":
            fixed_out[out[0]] = out[1]
        else:
            by_source[spec[0]].append(out)
    table = result.clusters[["rank", "cluster_id", "name"]].reset_index(drop=True).copy()
    summary = _summaries(table, world, by_source, top=settings.top)
    sensitivity = _sensitivity(table, world, oat, fixed_out, by_source.get("method", []), ranges)
    what = _whatif_frame(grid_choices, fixed_out, table)
    reps = _replicate_frame(world, by_source)
    draws = _draws_frame(by_source)
    meta = {
        "replicates_per_source": n,
        "seed": seed,
        "threads": threads,
        "seconds": round(elapsed, 3),
        "eps_km": list(ranges.eps_km),
        "density": list(ranges.density),
        "methods": [dict(m) for m in ranges.methods],
        "rounding_factors": list(ranges.rounding_factors),
        "window_years": list(ranges.window_years),
        "whatif_runs": len(grid_choices),
        "sensitivity_runs": sum(len(v) for v in oat.values()),
    }
    return Uncertainty(
        clusters=summary,
        sensitivity=sensitivity,
        whatif=what,
        replicates=reps,
        draws=draws,
        settings=meta,
    )


def _grid(bounds: tuple[float, float], nominal: float, steps: int = 5) -> list[float]:
    """``steps`` values: the bounds and the nominal value (3), and the midpoints (5)."""
    lo, hi = bounds
    values = [lo, nominal, hi]
    if steps >= 5:
        values += [(lo + nominal) / 2 if lo < nominal else lo]
        values += [(nominal + hi) / 2 if hi > nominal else hi]
    return sorted({round(v, 6) for v in values})


def _density_grid(bounds: tuple[float, float], steps: int = 5) -> list[float]:
    """The density multipliers: the bounds and 1 (3), and their geometric means (5)."""
    lo, hi = bounds
    values = [lo, 1.0, hi] + ([math.sqrt(lo), math.sqrt(hi)] if steps >= 5 else [])
    return sorted({round(v, 6) for v in values})


def _whatif_choices(
    settings: Settings, metrics: Sequence[str], ranges: _Ranges
) -> dict[tuple[float, float, bool], Choice]:
    """The what-if grid: eps_km x one density multiplier x with and without VC."""
    grid: dict[tuple[float, float, bool], Choice] = {}
    own = ranges.nominal.method
    variants = [(True, own)]
    if "vc" in metrics and len(metrics) > 1:
        variants.append((False, tuple((m, w) for m, w in own if m != "vc")))
    for eps in _grid(ranges.eps_km, settings.eps_km, settings.uncertainty_grid):
        for mult in _density_grid(ranges.density, settings.uncertainty_grid):
            for with_vc, method in variants:
                grid[(eps, mult, with_vc)] = Choice(
                    eps_km=eps,
                    density=tuple((m, mult) for m in metrics),
                    method=method,
                )
    return grid


def _oat_choices(
    settings: Settings, metrics: Sequence[str], ranges: _Ranges
) -> dict[str, list[Choice]]:
    """One choice at a time, every other at the run's value."""
    nominal = ranges.nominal
    out: dict[str, list[Choice]] = {
        "eps_km": [
            dataclasses.replace(nominal, eps_km=e)
            for e in _grid(ranges.eps_km, settings.eps_km, settings.uncertainty_grid)
        ]
    }
    for m in metrics:
        out[f"density.{m}"] = [
            dataclasses.replace(
                nominal, density=tuple((k, v if k == m else 1.0) for k, v in nominal.density)
            )
            for v in _density_grid(ranges.density, settings.uncertainty_grid)
        ]
    out["method"] = [dataclasses.replace(nominal, method=mm) for mm in ranges.methods]
    out["rounding"] = [
        dataclasses.replace(nominal, rounding_factor=f) for f in ranges.rounding_factors
    ]
    out["window_years"] = [
        dataclasses.replace(nominal, window_years=y) for y in ranges.window_years
    ]
    return out


#: Rank given to a replicate where a cluster does not exist (below every cluster).
_ABSENT = 1_000_000_000


def _percentile(ranks: np.ndarray, q: float) -> float:
    """The ``q`` percentile of ranks (0: does not exist, ranks below all); NaN there."""
    r = np.where(ranks > 0, ranks, _ABSENT)
    value = float(np.percentile(r, q, method="inverted_cdf"))
    return float("nan") if value >= _ABSENT else value


def _prediction(
    nominal: int, fresh: np.ndarray, observed: np.ndarray, *, same: bool
) -> tuple[float, float]:
    """90 % prediction interval of a fresh draw's rank, from bootstrap ranks.

    A fresh draw's rank is ``nominal + e_fresh - e_observed``: two independent deviations
    from the expected rank, the fresh world's and the observed world's own. The bootstrap
    gives draws of each: ``fresh - nominal`` for the first (a replicate's rank, 0 when the
    cluster does not exist there) and ``observed - nominal`` for the second (a data
    replicate where the cluster exists: the observed world has it). The interval is the
    5th and 95th percentile (``inverted_cdf``) of ``nominal + fresh_a - observed_b`` over
    every pair ``(a, b)`` (``a != b`` when ``same``: both from one set of replicates),
    counted exactly on histograms of the ranks. A pair whose ``fresh_a`` does not exist
    ranks below every cluster (NaN when a percentile falls there); the lower end is at
    least 1.
    """
    b = observed[observed > 0]
    a = fresh[fresh > 0]
    absent = int((fresh == 0).sum())
    if not len(b) or (not len(a) and not absent):
        return float("nan"), float("nan")
    a_lo, b_lo = int(a.min()) if len(a) else 0, int(b.min())
    ha = np.bincount(a - a_lo) if len(a) else np.zeros(0, dtype=np.int64)
    hb = np.bincount(b - b_lo)
    # counts[i]: pairs whose difference fresh_a - observed_b is a_lo - b_hi + i.
    counts = np.convolve(ha, hb[::-1]) if len(a) else np.zeros(0, dtype=np.int64)
    b_hi = b_lo + len(hb) - 1
    offset = nominal + a_lo - b_hi
    absent_pairs = absent * len(b)
    if same and len(a):
        # Drop the pairs of a replicate with itself (where it exists they differ by 0; a
        # replicate where it does not exist is no observed_b, so no absent pair is dropped).
        counts[b_hi - a_lo] -= len(a)
    total = int(counts.sum()) + absent_pairs
    if total <= 0:
        return float("nan"), float("nan")
    cum = np.cumsum(counts)

    def quantile(q: int) -> float:
        i = int(np.searchsorted(cum * 100, q * total, side="left"))
        return float("nan") if i >= len(cum) else float(offset + i)

    lo, hi = quantile(5), quantile(95)
    return (max(lo, 1.0) if not math.isnan(lo) else lo), hi


def _summaries(
    table: pd.DataFrame,
    world: _World,
    by_source: Mapping[str, list[tuple[Choice, _Outcome]]],
    *,
    top: int,
) -> pd.DataFrame:
    out = table.copy()
    pos = [world.nominal_ids.index(str(c)) for c in out["cluster_id"]]
    nominal = [int(r) for r in out["rank"]]
    ranks_of = {s: np.array([o.rank for _, o in outs])[:, pos] for s, outs in by_source.items()}
    data = ranks_of.get("data")
    intervals: dict[str, tuple[list[float], list[float]]] = {}
    for source, outs in by_source.items():
        ranks = ranks_of[source]
        fates = np.array([o.fate for _, o in outs])[:, pos]
        exists = ranks > 0
        out[f"{source}_median_rank"] = [_percentile(ranks[:, j], 50) for j in range(len(pos))]
        out[f"{source}_rank_p5"] = [_percentile(ranks[:, j], 5) for j in range(len(pos))]
        out[f"{source}_rank_p95"] = [_percentile(ranks[:, j], 95) for j in range(len(pos))]
        if source in ("data", "both") and data is not None:
            # A fresh draw of the data (with, for both, a method draw): prediction interval.
            pairs = [
                _prediction(nominal[j], ranks[:, j], data[:, j], same=source == "data")
                for j in range(len(pos))
            ]
            intervals[source] = ([p[0] for p in pairs], [p[1] for p in pairs])
        else:
            intervals[source] = (
                list(out[f"{source}_rank_p5"]),
                list(out[f"{source}_rank_p95"]),
            )
        if source == "data":
            out["data_rank_lo"], out["data_rank_hi"] = intervals[source]
        out[f"{source}_p_top10"] = (exists & (ranks <= 10)).mean(axis=0)
        out[f"{source}_p_top"] = (exists & (ranks <= top)).mean(axis=0)
        out[f"{source}_p_exists"] = exists.mean(axis=0)
        out[f"{source}_split_rate"] = (fates == FATES.index("split")).mean(axis=0)
        out[f"{source}_merge_rate"] = (fates == FATES.index("merged")).mean(axis=0)
    if not by_source:
        return out
    last = list(by_source)[-1]
    lo, hi = intervals[last]
    out["rank_lo"] = pd.array([None if np.isnan(v) else int(v) for v in lo], dtype="Int64")
    out["rank_hi"] = pd.array([None if np.isnan(v) else int(v) for v in hi], dtype="Int64")
    out["p_top"] = out[f"{last}_p_top"]
    out["top_uncertain"] = (out["p_top"] > 0.1) & (out["p_top"] < 0.9)
    return out


def _eta2(y: np.ndarray, groups: np.ndarray) -> float:
    """Correlation ratio: variance of the group means over the variance (first order)."""
    total = float(np.var(y))
    if total <= 0:
        return 0.0
    means = pd.Series(y).groupby(groups).transform("mean").to_numpy()
    return float(np.var(means) / total)


def _choice_bins(draws: Sequence[Choice], name: str) -> np.ndarray:
    if name == "eps_km":
        values = np.array([c.eps_km for c in draws])
    elif name.startswith("density."):
        m = name.split(".", 1)[1]
        values = np.array([dict(c.density).get(m, 1.0) for c in draws])
    elif name == "method":
        labels = [repr(c.method) for c in draws]
        return pd.factorize(pd.Series(labels))[0]
    elif name == "rounding":
        return np.array([c.rounding_factor for c in draws])
    else:
        return np.array([c.window_years or 0 for c in draws])
    edges = np.quantile(values, np.linspace(0, 1, _BINS + 1)[1:-1])
    return np.searchsorted(edges, values, side="right")


def _sensitivity(
    table: pd.DataFrame,
    world: _World,
    oat: Mapping[str, list[Choice]],
    fixed: Mapping[Choice, _Outcome],
    method_runs: list[tuple[Choice, _Outcome]],
    ranges: _Ranges,
) -> pd.DataFrame:
    pos = [world.nominal_ids.index(str(c)) for c in table["cluster_id"]]
    draws = [c for c, _ in method_runs]
    ranks_m = np.array([o.rank for _, o in method_runs])[:, pos] if method_runs else None
    rows: list[dict[str, Any]] = []
    for name, choices in oat.items():
        ranks = np.array([fixed[c].rank for c in choices])[:, pos]
        labels = ";".join(_value_label(name, c) for c in choices)
        bins = _choice_bins(draws, name) if draws else None
        for j, (rank, cid, cname) in enumerate(
            zip(table["rank"], table["cluster_id"], table["name"], strict=True)
        ):
            col = ranks[:, j]
            present = col[col > 0]
            first = float("nan")
            if ranks_m is not None and bins is not None:
                y = ranks_m[:, j].astype(float)
                y[y == 0] = len(world.nominal_ids) + 1
                first = _eta2(y, bins)
            rows.append(
                {
                    "rank": int(rank),
                    "cluster_id": cid,
                    "name": cname,
                    "choice": name,
                    "values": labels,
                    "rank_min": int(present.min()) if len(present) else None,
                    "rank_max": int(present.max()) if len(present) else None,
                    "swing": int(present.max() - present.min()) if len(present) else None,
                    "vanishes": bool((col == 0).any()),
                    "first_order": first,
                }
            )
    columns = [
        "rank",
        "cluster_id",
        "name",
        "choice",
        "values",
        "rank_min",
        "rank_max",
        "swing",
        "vanishes",
        "first_order",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("rank_min", "rank_max", "swing"):
        frame[name] = frame[name].astype("Int64")
    return frame


def _value_label(name: str, choice: Choice) -> str:
    if name == "eps_km":
        return f"{choice.eps_km:g}"
    if name.startswith("density."):
        return f"{dict(choice.density)[name.split('.', 1)[1]]:g}x"
    if name == "method":
        return "+".join(m for m, w in choice.method if w > 0)
    if name == "rounding":
        return f"{choice.rounding_factor}x"
    return str(choice.window_years)


def _whatif_frame(
    grid: Mapping[tuple[float, float, bool], Choice],
    fixed: Mapping[Choice, _Outcome],
    table: pd.DataFrame,
) -> pd.DataFrame:
    names = dict(zip(table["cluster_id"], table["name"], strict=True))
    parts = []
    for (eps, mult, with_vc), choice in grid.items():
        frame = fixed[choice].clusters
        assert frame is not None
        frame = frame.copy()
        frame.insert(0, "vc", with_vc)
        frame.insert(0, "density", mult)
        frame.insert(0, "eps_km", eps)
        frame["name"] = [
            names.get(n, "") if n else f"new cluster {c}"
            for c, n in zip(frame["cluster_id"], frame["nominal_id"], strict=True)
        ]
        parts.append(frame)
    if not parts:
        return pd.DataFrame(
            columns=["eps_km", "density", "vc", "cluster_id", "nominal_id", "name"]
            + [f"{m}_share" for m in METRICS]
        )
    out = pd.concat(parts, ignore_index=True)
    cols = ["eps_km", "density", "vc", "cluster_id", "nominal_id", "name"]
    return out[cols + [f"{m}_share" for m in METRICS]]


def _replicate_frame(
    world: _World, by_source: Mapping[str, list[tuple[Choice, _Outcome]]]
) -> pd.DataFrame:
    parts = []
    ids = np.asarray(world.nominal_ids, dtype=object)
    for source, outs in by_source.items():
        for i, (_, o) in enumerate(outs):
            parts.append(
                pd.DataFrame(
                    {
                        "source": source,
                        "replicate": i,
                        "cluster_id": ids,
                        "rank": o.rank,
                        "fate": np.asarray(FATES, dtype=object)[o.fate],
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["source", "replicate", "cluster_id", "rank", "fate"])
    return pd.concat(parts, ignore_index=True)


def _draws_frame(by_source: Mapping[str, list[tuple[Choice, _Outcome]]]) -> pd.DataFrame:
    rows = []
    for source in ("method", "both"):
        for i, (c, _) in enumerate(by_source.get(source, [])):
            row: dict[str, Any] = {"source": source, "replicate": i, "eps_km": c.eps_km}
            for m, v in c.density:
                row[f"density_{m}"] = v
            row["method"] = "+".join(m for m, w in c.method if w > 0)
            row["rounding_factor"] = c.rounding_factor
            row["window_years"] = c.window_years
            rows.append(row)
    return pd.DataFrame(rows)


def uncertainty(
    sources: Mapping[str, Sequence[Any]],
    result: RunResult,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    whatif: bool = True,
    progress: bool = False,
) -> Uncertainty:
    """Rank uncertainty of a run made by :func:`innoclusters.run` on ``sources``.

    Reads the records again (the bootstrap resamples documents) and calls :func:`estimate`.

    Parameters
    ----------
    sources
        The same input files per metric as the run.
    result
        What :func:`innoclusters.run` returned.
    replicates, seed, workers, whatif, progress
        As in :func:`estimate`.

    Returns
    -------
    Uncertainty
        Frames: ``clusters`` (intervals and probabilities per cluster), ``sensitivity``,
        ``whatif``, ``replicates`` and ``draws``.

    Examples
    --------
    >>> import innoclusters  # doctest: +SKIP
    >>> files = {"patents": ["pct.parquet"], "publications": ["articles.parquet"]}
    >>> result = innoclusters.run(files)  # doctest: +SKIP
    >>> u = innoclusters.uncertainty(files, result, replicates=100)  # doctest: +SKIP
    >>> u.clusters[["rank", "name", "rank_lo", "rank_hi", "p_top"]].head()  # doctest: +SKIP
    """
    # The bootstrap resamples documents: doc_id is kept (region is read by no stage).
    records = read_records(sources, keep=("doc_id",))
    windows = edition_windows(records, result.settings)
    return estimate(
        records,
        result,
        windows=windows,
        replicates=replicates,
        seed=seed,
        workers=workers,
        whatif=whatif,
        progress=progress,
    )


def recorded_uncertainty(folder: str | Path) -> dict[str, Any] | None:
    """The rank uncertainty recorded in a run's output folder, or ``None``.

    Parameters
    ----------
    folder
        An output folder of :func:`innoclusters.run` (or the command line).

    Returns
    -------
    dict or None
        The manifest's ``uncertainty`` entry (``replicates_per_source``, ``seed``, the
        ranges, ...) when the run has rank uncertainty and its ``uncertainty.csv`` is there;
        ``None`` otherwise, also when the folder holds no readable ``manifest.json``.
    """
    here = Path(folder)
    try:
        manifest = read_manifest(here)
    except InputError:
        return None
    found = manifest.get("uncertainty")
    if not isinstance(found, dict) or not (here / "uncertainty.csv").is_file():
        return None
    return found


def interval_text(lo: Any, hi: Any) -> str:
    """A rank interval as text: ``"12–18"``; ``"7"`` when both ends agree; ``"12–…"`` when
    the upper end is not a cluster at all (more than 5 % of the replicates)."""

    def whole(value: Any) -> int | None:
        if value is None or value is pd.NA:
            return None
        v = float(value)
        return None if math.isnan(v) else int(v)

    a, b = whole(lo), whole(hi)
    if a is None:
        return "not a cluster"
    if b is None:
        return f"{a}–…"
    return str(a) if a == b else f"{a}–{b}"


def report_columns(found: Uncertainty, *, top: int) -> list[tuple[str, dict[str, str]]]:
    """Ranking-table columns for the report: the 90 % rank interval and P(top N).

    In the form the report reads from ``RunResult.extras["report_columns"]``: ``(header,
    {cluster_id: text})``. A cluster whose top-``N`` membership is uncertain
    (``0.1 < p_top < 0.9``) is marked ``?``.
    """
    table = found.clusters
    if "rank_lo" not in table.columns:
        return []
    ids = [str(c) for c in table["cluster_id"]]
    intervals = {
        c: interval_text(lo, hi)
        for c, lo, hi in zip(ids, table["rank_lo"], table["rank_hi"], strict=True)
    }
    p_top = {
        c: f"{float(p):.2f}" + (" ?" if flag else "")
        for c, p, flag in zip(ids, table["p_top"], table["top_uncertain"], strict=True)
    }
    return [("90 % rank interval", intervals), (f"P(top {top})", p_top)]
