"""``report.html``: one self-contained page to read a run as the GII publishes its ranking.

The page holds one search over every cluster and the places it holds (any spelling the
gazetteer knows), a world map (Leaflet) of the cluster footprints with the top clusters
labelled by rank and name, place names appearing with zoom, emerging clusters and noise as
layers; a card per cluster that explains it (figures with units, places and their shares,
profile, and the metric clusters that merged into it with the closest pair of each merge);
the sortable ranking; SVG charts of the top 10 per metric, the clusters per economy, the
intensity ranking and, with a previous edition or a second method, the rank changes; and
the run's windows, sources, credits, settings, inputs, rejects and method.

Everything is inlined, so the page loads with no network and sends nothing: Leaflet and
topojson-client (vendored from npm in ``publish/static/vendor``, with their licences) and
the Natural Earth 1:50m outlines (``innoclusters/data/countries_50m.topojson``). There is
no tile server; the base map is the outlines and the gazetteer's place names.

Safety: every string from the data reaches the page either through Jinja2 with autoescape
on (charts are built with XML escaping), or inside one JSON block whose ``<``, ``>`` and
``&`` are written as ``\\u003c``-style escapes, and is put into the page by the script with
``textContent`` only.

The page is byte-identical for identical runs: it holds no time, timing or absolute path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from innoclusters._io import atomic_write_text
from innoclusters._version import __version__
from innoclusters.places.gazetteer import places as gazetteer_places
from innoclusters.publish._views import (
    clusters_per_economy,
    flatten,
    intensity_ranking,
    ranking_table,
    top_by_metric,
    top_n,
)
from innoclusters.publish.charts import Bar, Slope, bar_chart, slope_chart
from innoclusters.publish.comparison import report_sections
from innoclusters.publish.geojson import split_antimeridian
from innoclusters.publish.links import links_of
from innoclusters.publish.mapdata import (
    cluster_places,
    country_outlines,
    place_labels,
    search_entries,
)
from innoclusters.publish.tables import scalar
from innoclusters.publish.uncertainty import uncertainty_view
from innoclusters.result import RunResult

__all__ = ["MAX_NOISE_POINTS", "noise_cells", "render_report", "safe_json", "write_report"]

#: At most this many markers show the noise (locations in no cluster); more are aggregated.
MAX_NOISE_POINTS = 4000

#: Grid sizes (degrees) tried, finest first, to aggregate noise for display.
_NOISE_GRID_DEG = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

#: Coordinate decimals of footprints on the page (1e-3 degree is about 100 m).
_MAPDECIMALS = 3

_METRIC_LABELS = {
    "patents": "PCT patent applications",
    "publications": "scientific articles",
    "vc": "venture-capital deals",
}

_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def safe_json(value: Any) -> str:
    """JSON text safe to place inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` (and the JavaScript line separators) are written as ``\\uXXXX``
    escapes, so no string from the data can close the element or open a comment.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(_JSON_ESCAPES)


def _plain(value: Any) -> Any:
    """A JSON-ready value: NaN and NA become ``None``, NumPy scalars become Python ones."""
    value = scalar(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(c): _plain(v) for c, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


@cache
def _static(name: str) -> str:
    return (resources.files("innoclusters.publish") / "static" / name).read_text(encoding="utf-8")


def _vendor_js(name: str) -> str:
    """A vendored script, safe inside ``<script>``, without its source-map comment."""
    text = _static(f"vendor/{name}")
    text = re.sub(r"//# sourceMappingURL=\S+", "", text)
    return text.replace("</script", "<\\/script")


def _vendor_css(name: str) -> str:
    """A vendored stylesheet without comments and references to image files."""
    css = re.sub(r"/\*.*?\*/", "", _static(f"vendor/{name}"), flags=re.S)
    return re.sub(r"url\((?!#)[^)]*\)", "none", css)


def noise_cells(
    locations: pd.DataFrame, *, max_points: int = MAX_NOISE_POINTS
) -> tuple[pd.DataFrame, float | None, int]:
    """Aggregate noise locations (in no cluster) on a grid coarse enough for the map.

    Parameters
    ----------
    locations
        ``RunResult.locations`` (``lat, lon, weight, cluster_id``).
    max_points
        At most this many cells are returned.

    Returns
    -------
    cells : pandas.DataFrame
        ``lat, lon`` (weighted centre of the cell's locations), ``weight`` and
        ``locations`` (how many rows of the locations table fell in the cell).
    grid_deg : float or None
        Cell size in degrees, ``None`` when every location is shown as it is.
    n_noise : int
        Noise locations in the input.
    """
    needed = {"lat", "lon", "weight"}
    if locations is None or not needed <= set(locations.columns):
        return pd.DataFrame(columns=["lat", "lon", "weight", "locations"]), None, 0
    # Plain arrays of the noise rows that have all three numbers (no frame is copied).
    lat, lon, w = (
        pd.to_numeric(locations[c], errors="coerce").to_numpy(dtype=float)
        for c in ("lat", "lon", "weight")
    )
    keep = ~(np.isnan(lat) | np.isnan(lon) | np.isnan(w))
    if "cluster_id" in locations.columns:
        keep &= locations["cluster_id"].isna().to_numpy()
    lat, lon, w = lat[keep], lon[keep], w[keep]
    n_noise = len(lat)
    if n_noise <= max_points:
        frame = pd.DataFrame({"lat": lat, "lon": lon, "weight": w})
        return frame.assign(locations=1), None, n_noise
    for grid in _NOISE_GRID_DEG:
        # Distinct cells counted on one int64 key (|j| < 2**31 at every grid size); the
        # key orders cells as (i, j) does.
        key = (np.floor(lat / grid).astype(np.int64) << 32) + np.floor(lon / grid).astype(np.int64)
        if len(pd.unique(key)) <= max_points or grid == _NOISE_GRID_DEG[-1]:
            break
    w_pos = np.where(w > 0, w, 1e-12)
    work = pd.DataFrame(
        {"wlat": lat * w_pos, "wlon": lon * w_pos, "w": w_pos, "weight": w, "locations": 1}
    )
    agg = work.groupby(key, sort=True).sum()
    cells = pd.DataFrame(
        {
            "lat": (agg["wlat"] / agg["w"]).to_numpy(),
            "lon": (agg["wlon"] / agg["w"]).to_numpy(),
            "weight": agg["weight"].to_numpy(),
            "locations": agg["locations"].to_numpy(),
        }
    )
    if len(cells) > max_points:
        cells = cells.nlargest(max_points, "weight").reset_index(drop=True)
    return cells, grid, n_noise


def _round_coords(coords: Any) -> Any:
    if (
        coords
        and isinstance(coords[0], list | tuple)
        and coords[0]
        and isinstance(coords[0][0], list | tuple)
    ):
        return [_round_coords(c) for c in coords]
    if coords and isinstance(coords[0], list | tuple):
        return [[round(float(x), _MAPDECIMALS), round(float(y), _MAPDECIMALS)] for x, y in coords]
    return coords


def _footprints(clusters: pd.DataFrame) -> dict[str, Any]:
    """Cluster footprints as RFC 7946 GeoJSON for the map (split at the antimeridian).

    Each feature's ``id`` is the cluster's position in the ranking.
    """
    import shapely

    features = []
    geoms = clusters["geometry"] if "geometry" in clusters.columns else [None] * len(clusters)
    for pos, geom in enumerate(geoms):
        split = split_antimeridian(geom)
        if split is None:
            continue
        mapping = json.loads(shapely.to_geojson(split))
        mapping["coordinates"] = _round_coords(mapping["coordinates"])
        features.append({"type": "Feature", "id": pos, "geometry": mapping})
    return {"type": "FeatureCollection", "features": features}


def _profiles(result: RunResult, ids: set[str]) -> dict[str, list[list[Any]]] | None:
    """Top 3 organisations and fields per cluster and metric, from ``extras["profiles"]``.

    Each entry is ``[metric, kind, value, share]``.

    ``share`` there is a fraction of the cluster's count of the metric; the card shows it
    in percent.
    """
    profiles = result.extras.get("profiles") if result.extras else None
    needed = {"cluster_id", "metric", "kind", "value", "share"}
    if not isinstance(profiles, pd.DataFrame) or not needed <= set(profiles.columns):
        return None
    frame = profiles[profiles["cluster_id"].astype(str).isin(ids)]
    if "rank" in frame.columns:
        rank = pd.to_numeric(frame["rank"], errors="coerce")
        frame = frame[rank.notna() & (rank <= 3)].assign(_r=rank)
    else:
        frame = frame.assign(_r=-pd.to_numeric(frame["share"], errors="coerce"))
    frame = frame.sort_values(["cluster_id", "metric", "kind", "_r"], kind="mergesort")
    frame = frame.groupby(["cluster_id", "metric", "kind"], sort=False).head(3)
    out: dict[str, list[list[Any]]] = {}
    for row in _rows(frame):
        share = _plain(row.share)
        out.setdefault(str(row.cluster_id), []).append(
            [
                _plain(row.metric),
                _plain(row.kind),
                _plain(row.value),
                None if share is None else round(float(share), 4),
            ]
        )
    return out


def _sections(result: RunResult) -> list[dict[str, Any]]:
    """Sections of the run's comparisons: what changed, method comparison, emerging clusters.

    See :func:`innoclusters.publish.comparison.report_sections`; tables are rendered server-side.
    """
    out = []
    for sec in report_sections(result):
        tables = []
        for table_id, title, frame in sec.tables:
            numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}
            tables.append({"id": table_id, "title": title, **_table(frame, numeric=numeric)})
        out.append(
            {
                "id": sec.id,
                "nav": sec.nav,
                "title": sec.title,
                "paragraphs": sec.paragraphs,
                "tables": tables,
            }
        )
    return out


#: Column headers of the ranking table, with units; ``{m}`` is a metric's short name.
_HEADERS = {
    "rank": "Rank",
    "cluster_id": "Cluster id",
    "name": "Cluster",
    "economies": "Economies",
    "score": "Score (sum of shares, %)",
    "population": "Population",
    "intensity": "Intensity (score per million inhabitants)",
    "intensity_rank": "Intensity rank",
    "lat": "Latitude (°)",
    "lon": "Longitude (°)",
    "previous_rank": "Previous rank",
    "rank_change": "Rank change",
    "alt_rank": "Rank by the other method",
    "alt_score": "Score by the other method",
    "alt_rank_difference": "Rank difference (other − this method)",
}

_SHORT = {"patents": "PCT applications", "publications": "Articles", "vc": "VC deals"}

#: Decimals shown in the report (the full value stays in ``data-v`` and in the CSV).
_SHOWN_DECIMALS = {"score": 2, "intensity": 2, "alt_score": 2, "lat": 2, "lon": 2}


def _header(column: str) -> str:
    if column in _HEADERS:
        return _HEADERS[column]
    for m, short in _SHORT.items():
        if column == m:
            return f"{short} (count)"
        if column == f"{m}_share":
            return f"{short} (% of world)"
        if column == f"{m}_growth_pct":
            return f"{short} growth (%)"
        if column == f"{m}_per_million":
            return f"{short} per million inhabitants"
    return column.replace("_", " ").capitalize()


def _decimals(column: str) -> int:
    if column in _SHOWN_DECIMALS:
        return _SHOWN_DECIMALS[column]
    if column in _SHORT:
        return 1
    if column.endswith(("_share", "_pct", "_per_million")):
        return 2
    return 2


def _format_cell(column: str, value: Any) -> tuple[str, str]:
    """Displayed text and sort key of one table cell."""
    v = _plain(value)
    if v is None:
        return "", ""
    if isinstance(v, bool):
        return str(v), str(int(v))
    if isinstance(v, int):
        return f"{v:,}" if column == "population" else str(v), repr(v)
    if isinstance(v, float):
        if column == "population":
            return f"{v:,.0f}", repr(v)
        ranks = column.endswith("rank") or column in ("rank_change", "alt_rank_difference")
        if ranks and v.is_integer():
            return str(int(v)), repr(v)
        decimals = _decimals(column)
        text = f"{v:,.{decimals}f}" if column not in ("lat", "lon") else f"{v:.{decimals}f}"
        return text, repr(v)
    return str(v), str(v)


def _table(frame: pd.DataFrame, *, numeric: set[str]) -> dict[str, Any]:
    columns = [str(c) for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        rows.append([_format_cell(c, v) for c, v in zip(columns, values, strict=True)])
    return {
        "columns": columns,
        "headers": [_header(c) for c in columns],
        "rows": rows,
        "numeric": [c in numeric for c in columns],
    }


def _rejects_summary(rejects: pd.DataFrame | None) -> dict[str, Any]:
    if rejects is None or len(rejects) == 0:
        return {"total": 0, "by_reason": [], "by_file": []}
    by_reason: list[tuple[str, str, int]] = []
    if "reason" in rejects.columns:
        keys = [c for c in ("metric", "reason") if c in rejects.columns]
        counts = rejects.groupby(keys, dropna=False).size().sort_values(ascending=False)
        for key, n in counts.head(30).items():
            parts = key if isinstance(key, tuple) else (key,)
            metric = str(parts[0]) if len(parts) == 2 else ""
            by_reason.append((metric, str(parts[-1]), int(n)))
    by_file: list[tuple[str, int]] = []
    if "file" in rejects.columns:
        files = rejects.groupby("file", dropna=False).size().sort_values(ascending=False)
        by_file = [(_file_name(k), int(n)) for k, n in files.head(30).items()]
    return {"total": len(rejects), "by_reason": by_reason, "by_file": by_file}


def _file_name(path: Any) -> str:
    """The file name alone: the report holds no path of the machine that made it."""
    text = str(path)
    return PurePath(text.replace("\\", "/")).name or text


def _window(windows: Any, metric: str) -> tuple[int, int] | None:
    """The edition window of ``metric`` from the manifest's ``windows`` entry."""
    if not isinstance(windows, Mapping):
        return None
    w = windows.get(metric)
    if isinstance(w, Mapping):
        for key in ("window", "years"):
            years = w.get(key)
            if isinstance(years, list | tuple) and len(years) == 2:
                return int(years[0]), int(years[1])
        first = w.get("first", w.get("first_year"))
        last = w.get("last", w.get("last_year"))
        if first is not None and last is not None:
            return int(first), int(last)
    if isinstance(w, list | tuple) and len(w) == 2:
        return int(w[0]), int(w[1])
    return None


def _window_text(windows: Any, metric: str) -> str:
    w = _window(windows, metric)
    return f"{w[0]}–{w[1]}" if w else ""


def _method(result: RunResult, top: int) -> list[str]:
    """The method section, in plain language, from the run's settings and manifest."""
    s = result.settings
    m = result.manifest
    windows = m.get("windows", {})
    used = m.get("min_weight_used", {})
    metrics = list(result.metrics)
    parts = []
    for metric in metrics:
        label = _METRIC_LABELS.get(metric, metric)
        window = _window_text(windows, metric)
        parts.append(f"{label} ({metric}{', ' + window if window else ''})")
    paragraphs = [
        "Activity is measured by " + "; ".join(parts) + ". A document with N addresses "
        "gives 1/N to each address (fractional counting), so every document counts 1 "
        "worldwide; a venture-capital deal counts 1 where the funded company is.",
        f"Addresses are rounded to {s.rounding:g}° and summed per location. For each metric "
        f"on its own, locations are clustered by weighted DBSCAN on the sphere: a location is "
        f"a core when the weight within {s.eps_km:g} km (great-circle) reaches the metric's "
        "density threshold ("
        + ", ".join(f"{k}: {float(v):,.3g}" for k, v in used.items() if isinstance(v, int | float))
        + "); cores within that distance connect, and other locations within it join. "
        "Locations in no cluster are noise.",
        "Clusters of different metrics whose locations come within "
        f"{s.eps_km:g} km of each other are merged into one area, across borders; each "
        "cluster's card names the metric clusters that merged and the closest pair of "
        "locations of each merge (also in links.csv). All activity inside the area counts "
        "for it. Each cluster's count of a metric is expressed as a share (%) of that "
        "metric's world total (noise included); the score is the sum of the shares"
        + (
            " weighted by " + ", ".join(f"{k} × {s.weight_of(k):g}" for k in metrics)
            if any(s.weight_of(k) != 1.0 for k in metrics)
            else ", every metric weighted equally"
        )
        + f". The top {top} clusters by score form the ranking.",
        "Intensity is the cluster's score per million inhabitants of its area, where the "
        "population is known. The economies listed for a cluster are those holding at "
        f"least {s.economy_min_share:.0%} of its activity.",
    ]
    return paragraphs


def _population_source(manifest: Mapping[str, Any]) -> str:
    pop = manifest.get("population")
    if isinstance(pop, Mapping):
        source = str(pop.get("source", ""))
        method = str(pop.get("method", ""))
        if source and source != "gazetteer":
            source = _file_name(source)
        if source == "gazetteer":
            source = "GeoNames gazetteer (CC BY 4.0)"
        return f"{source}: {method}" if method else source
    return "GeoNames gazetteer (CC BY 4.0): sum of the places in the footprint"


def _metric_clusters(result: RunResult, ids: list[str]) -> dict[str, list[list[Any]]]:
    """Per cluster, its metric clusters: ``[metric, label, locations, weight]``."""
    loc = result.locations
    needed = {"metric", "metric_cluster", "cluster_id", "weight"}
    if loc is None or not needed <= set(loc.columns):
        return {}
    members = loc[(pd.to_numeric(loc["metric_cluster"]) >= 0) & loc["cluster_id"].notna()]
    agg = (
        members.groupby(["cluster_id", "metric", "metric_cluster"], sort=True)["weight"]
        .agg(["size", "sum"])
        .reset_index()
    )
    wanted = set(ids)
    out: dict[str, list[list[Any]]] = {}
    for row in agg.to_dict("records"):
        cid = str(row["cluster_id"])
        if cid in wanted:
            out.setdefault(cid, []).append(
                [
                    str(row["metric"]),
                    int(row["metric_cluster"]),
                    int(row["size"]),
                    round(float(row["sum"]), 3),
                ]
            )
    return out


def _links(result: RunResult) -> dict[str, list[list[Any]]]:
    """Per cluster, its merge links: ``[metric_a, label_a, metric_b, label_b, lat_a, lon_a,
    lat_b, lon_b, distance_km]``."""
    out: dict[str, list[list[Any]]] = {}
    for r in links_of(result).to_dict("records"):
        out.setdefault(str(r["cluster_id"]), []).append(
            [
                str(r["metric_a"]),
                int(r["metric_cluster_a"]),
                str(r["metric_b"]),
                int(r["metric_cluster_b"]),
                float(r["lat_a"]),
                float(r["lon_a"]),
                float(r["lat_b"]),
                float(r["lon_b"]),
                round(float(r["distance_km"]), 3),
            ]
        )
    return out


def _rows(frame: pd.DataFrame) -> list[Any]:
    """Rows as objects with attribute access (``row.name``), typed loosely for the views."""
    return list(frame.itertuples(index=False))


def _num(value: Any, decimals: int) -> str:
    v = _plain(value)
    return "" if v is None else f"{float(v):,.{decimals}f}"


def _charts(
    result: RunResult,
    per_metric: Mapping[str, pd.DataFrame],
    per_economy: pd.DataFrame,
    intensity: pd.DataFrame,
    pos_of: Mapping[str, int],
    top: int,
) -> dict[str, Any]:
    """The report's SVG charts (markup) and the rows of their data tables."""
    windows = result.manifest.get("windows", {})
    mark = "SYNTHETIC DATA" if result.manifest.get("synthetic") else ""
    out: dict[str, Any] = {"top10": [], "economy": None, "intensity": None, "slopes": []}
    for metric, frame in per_metric.items():
        label = _METRIC_LABELS.get(metric, metric)
        window = _window_text(windows, metric)
        unit = f"{label}, fractional count{', ' + window if window else ''}"
        bars = [
            Bar(
                label=f"{r.name} (#{r.rank})",
                value=float(r.count),
                text=f"{_num(r.count, 1)} ({_num(r.share, 2)} % of world)",
                index=pos_of.get(str(r.cluster_id)),
            )
            for r in _rows(frame)
        ]
        out["top10"].append(
            {
                "metric": metric,
                "title": f"Top 10 clusters by {label}",
                "svg": bar_chart(
                    chart_id=f"chart-top10-{metric}",
                    title=f"Top 10 clusters by {label}",
                    axis_label=unit,
                    bars=bars,
                    summary=f"Bar chart of the 10 clusters with most {label} ({unit}).",
                    mark=mark,
                ),
                "bars": bars,
            }
        )
    shown = per_economy[per_economy["top_clusters"] > 0].head(25)
    if len(shown):
        bars = [
            Bar(
                label=f"{r.economy_name} ({r.economy})"
                if r.economy_name and r.economy_name != r.economy
                else str(r.economy),
                value=float(r.top_clusters),
                text=f"{int(r.top_clusters)} of the top {top} ({int(r.all_clusters)} in all)",
            )
            for r in _rows(shown)
        ]
        title = f"Top-{top} clusters per economy"
        out["economy"] = {
            "title": title,
            "svg": bar_chart(
                chart_id="chart-economies",
                title=title,
                axis_label=f"clusters among the top {top} (a cross-border cluster counts for each)",
                bars=bars,
                summary=f"Bar chart of the number of top-{top} clusters in each economy.",
                mark=mark,
            ),
            "bars": bars,
        }
    if len(intensity):
        head = intensity.head(20)
        bars = [
            Bar(
                label=f"{r.name} (#{r.rank})",
                value=float(r.intensity),
                text=f"{_num(r.intensity, 2)} per million ({_num(r.population, 0)} inhabitants)",
                index=pos_of.get(str(r.cluster_id)),
            )
            for r in _rows(head)
        ]
        title = f"Intensity: the {len(head)} most intense of the top {top}"
        out["intensity"] = {
            "title": title,
            "svg": bar_chart(
                chart_id="chart-intensity",
                title=title,
                axis_label="score (sum of world shares, %) per million inhabitants",
                bars=bars,
                summary="Bar chart of the score per million inhabitants.",
                mark=mark,
            ),
            "bars": bars,
        }
    clusters = result.clusters
    for column, before, title in (
        ("previous_rank", "previous edition", "Rank changes since the previous edition"),
        ("alt_rank", "other method", "Ranks by the other method"),
    ):
        if column not in clusters.columns:
            continue
        prev = pd.to_numeric(clusters[column], errors="coerce")
        now = pd.to_numeric(clusters["rank"], errors="coerce")
        n = min(top, 30)
        mask = (now <= n) | (prev <= n)
        lines = [
            Slope(
                label=str(name),
                before=None if pd.isna(b) else int(b),
                after=None if pd.isna(a) else int(a),
                index=pos_of.get(str(cid)),
            )
            for name, b, a, cid in zip(
                clusters["name"][mask],
                prev[mask],
                now[mask],
                clusters["cluster_id"][mask],
                strict=True,
            )
        ]
        if column == "previous_rank":
            exits = _exits(result, n)
            lines += [Slope(label=name, before=rank, after=None) for name, rank in exits]
        out["slopes"].append(
            {
                "title": f"{title} (top {n})",
                "svg": slope_chart(
                    chart_id=f"chart-slope-{column}",
                    title=f"{title} (top {n})",
                    before_label=before,
                    after_label="this run",
                    lines=lines,
                    top=n,
                    mark=mark,
                ),
            }
        )
    return out


def _exits(result: RunResult, n: int) -> list[tuple[str, int]]:
    """Clusters of the previous edition's top ``n`` that are not in this run's (name, rank)."""
    comp = result.extras.get("comparison") if result.extras else None
    previous = getattr(comp, "previous", None)
    if not isinstance(previous, pd.DataFrame) or "rank" not in previous.columns:
        return []
    clusters = result.clusters
    now = pd.to_numeric(clusters["rank"], errors="coerce")
    prev_now = pd.to_numeric(clusters.get("previous_rank"), errors="coerce")
    still = set(prev_now[now <= n].dropna().astype(int))
    out = []
    for r in _rows(previous.sort_values("rank")):
        rank = int(r.rank)
        if rank <= n and rank not in still:
            out.append((str(getattr(r, "name", "")), rank))
    return out


def _extra_columns(result: RunResult, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Extra ranking-table columns other stages add: ``extras["report_columns"]``.

    Each entry is ``(header, {cluster_id: text})``; a cluster without a value gets an empty
    cell. This is the documented way to show, for example, a rank interval per row.
    """
    columns = result.extras.get("report_columns") if result.extras else None
    out = []
    for header, values in columns or []:
        out.append({"header": str(header), "cells": [str(values.get(c, "")) for c in ids]})
    return out


def _context(result: RunResult) -> dict[str, Any]:
    clusters = result.clusters
    metrics: Sequence[str] = result.metrics
    manifest = result.manifest
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The noise grid (array work, mostly without the GIL) is made on a second thread
        # while the places held by the clusters are found; both only read the result.
        noise = pool.submit(noise_cells, result.locations)
        top = top_n(clusters, top=result.settings.top)
        table = ranking_table(clusters)
        numeric = {c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])}
        per_metric = top_by_metric(clusters, metrics, n=10)
        per_economy = clusters_per_economy(clusters, top=top)
        intensity = intensity_ranking(clusters, metrics)
        ids = [str(c) for c in clusters["cluster_id"]]
        pos_of = {c: i for i, c in enumerate(ids)}
        gazetteer = gazetteer_places()  # shared, read only
        held = cluster_places(clusters, result.locations, gazetteer)
        cells, grid_deg, n_noise = noise.result()
    held_lists: dict[int, list[list[Any]]] = {}
    for r in _rows(held):
        held_lists.setdefault(int(r.cluster), []).append(
            [str(r.name), round(float(r.share_pct), 2), int(r.population)]
        )
    synthetic = bool(manifest.get("synthetic"))
    windows = manifest.get("windows", {})
    card_fields = [
        "economy_names",
        "change",
        "previous_rank",
        "rank_change",
        "alt_rank",
        "alt_rank_difference",
        *(f"{m}_growth_pct" for m in metrics),
    ]
    extra = {f: clusters[f] for f in card_fields if f in clusters.columns}
    records = _records(table)
    for i, rec in enumerate(records):
        for f, col in extra.items():
            rec[f] = _plain(col.iloc[i])
    data = {
        "meta": {
            "top": top,
            "metrics": list(metrics),
            "metric_labels": {k: _METRIC_LABELS.get(k, k) for k in metrics},
            "synthetic": synthetic,
            "eps_km": float(result.settings.eps_km),
            "population_source": _population_source(manifest),
            "windows": {m: _window_text(windows, m) for m in metrics},
        },
        "fields": [str(c) for c in table.columns],
        "clusters": records,
        "footprints": _footprints(clusters),
        "countries": country_outlines(),
        "noise": {
            "lat": [round(float(v), 3) for v in cells["lat"]],
            "lon": [round(float(v), 3) for v in cells["lon"]],
            "weight": [round(float(v), 3) for v in cells["weight"]],
            "locations": [int(v) for v in cells["locations"]],
        },
        "top10": {m: _records(f) for m, f in per_metric.items()},
        "economies": _records(per_economy),
        "intensity": _records(intensity.head(30)),
        "profiles": _profiles(result, set(ids)),
        "places": {str(k): v for k, v in sorted(held_lists.items())},
        "labels": place_labels(gazetteer, held, clusters),
        "search": search_entries(held, gazetteer),
        "metric_clusters": _metric_clusters(result, ids),
        "links": _links(result),
    }
    inputs = []
    for entry in manifest.get("inputs", []):
        if isinstance(entry, Mapping):
            row = {str(k): _plain(v) for k, v in entry.items()}
            if "path" in row and row["path"] is not None:
                row["path"] = _file_name(row["path"])
            inputs.append(row)
    input_columns: list[str] = []
    for entry in inputs:
        for k, v in entry.items():
            if k not in input_columns and not isinstance(v, dict | list):
                input_columns.append(k)
    settings_rows = [
        (k, ", ".join(map(str, v)) if isinstance(v, list) else _plain(v))
        for k, v in flatten(manifest.get("settings", result.settings.to_dict()))
    ]
    totals_rows = [
        (
            m,
            _METRIC_LABELS.get(m, m),
            _plain(result.totals.get(m)),
            _plain(manifest.get("documents", {}).get(m))
            if isinstance(manifest.get("documents"), Mapping)
            else None,
            _window_text(windows, m),
        )
        for m in metrics
    ]
    return {
        "title": "innoclusters: innovation cluster ranking",
        "version": manifest.get("versions", {}).get("innoclusters", __version__),
        "synthetic": synthetic,
        "notice": manifest.get("notice", ""),
        "n_clusters": len(clusters),
        "top": top,
        "metrics": list(metrics),
        "metric_labels": _METRIC_LABELS,
        "windows_text": "; ".join(
            f"{_METRIC_LABELS.get(m, m)} {_window_text(windows, m)}"
            for m in metrics
            if _window_text(windows, m)
        ),
        "table": _table(table, numeric=numeric),
        "extra_columns": _extra_columns(result, ids),
        "uncertainty": uncertainty_view(result),
        "intensity_table": _table(intensity.head(30), numeric=set(intensity.columns) - {"name"})
        if len(intensity)
        else None,
        "economy_table": _table(per_economy, numeric={"top_clusters", "all_clusters"}),
        "charts": _charts(result, per_metric, per_economy, intensity, pos_of, top),
        "sections": _sections(result),
        "noise": {"n": n_noise, "shown": len(cells), "grid_deg": grid_deg},
        "n_emerging": max(len(clusters) - top, 0),
        "has_previous": "previous_rank" in clusters.columns,
        "settings_rows": settings_rows,
        "rows": manifest.get("rows", {}),
        "totals_rows": totals_rows,
        "inputs": inputs,
        "input_columns": input_columns,
        "rejects": _rejects_summary(result.rejects),
        "method": _method(result, top),
        "population_source": _population_source(manifest),
        "data_json": safe_json(data),
        "css": _vendor_css("leaflet/leaflet.css") + "\n" + _static("report.css"),
        "vendor_js": _vendor_js("leaflet/leaflet.js")
        + "\n"
        + _vendor_js("topojson-client/topojson-client.min.js"),
        "js": _static("report.js").replace("</script", "<\\/script"),
    }


def render_report(result: RunResult) -> str:
    """Render the report page of ``result`` as one HTML string (no external resources).

    Parameters
    ----------
    result
        The run to publish.

    Returns
    -------
    str
        The whole page.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("innoclusters.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**_context(result))


def write_report(result: RunResult, path: str | Path) -> Path:
    """Write ``report.html`` atomically.

    Parameters
    ----------
    result
        The run to publish.
    path
        The file to write.

    Returns
    -------
    Path
        ``path``.
    """
    atomic_write_text(path, render_report(result))
    return Path(path)
