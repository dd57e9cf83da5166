"""``report.html``: one self-contained page to read a run as the GII publishes its ranking.

The page holds a world map of the cluster footprints (coloured by score, noise faintly,
zoom and pan, a card per cluster on hover and click), the sortable and searchable ranking
table, the top 10 clusters by each metric, the clusters per economy, the intensity ranking,
and the run's settings, inputs, rejects and method, all generated from the run.

Everything is inlined: plotly.js (shipped inside the ``plotly`` Python package) draws the
map and charts, and country outlines come from Natural Earth 1:110m (public domain, vendored
in ``publish/static``), so the page loads with no network. plotly.js fetches its own base map
from a CDN by default; the page instead registers an empty base map and draws the outlines
as its own layer, so no request is ever made.

Safety: every string from the data reaches the page either through Jinja2 with autoescape
on, or inside one JSON block whose ``<``, ``>`` and ``&`` are written as ``\\u003c``-style
escapes, and is put into the page by the script with ``textContent`` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from innoclusters._io import atomic_write_text
from innoclusters._version import __version__
from innoclusters.publish._views import (
    clusters_per_economy,
    flatten,
    intensity_ranking,
    ranking_table,
    top_by_metric,
    top_n,
)
from innoclusters.publish.comparison import report_sections
from innoclusters.publish.geojson import split_antimeridian
from innoclusters.publish.tables import DECIMALS, scalar
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


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a dependency
        raise ImportError(
            "report.html needs plotly (it ships plotly.js); install it with "
            "'pip install plotly>=5.24'"
        ) from exc
    return get_plotlyjs().replace("</script", "<\\/script")


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
    noise = locations
    if "cluster_id" in locations.columns:
        noise = locations[locations["cluster_id"].isna()]
    frame = pd.DataFrame(
        {
            "lat": pd.to_numeric(noise["lat"], errors="coerce").to_numpy(dtype=float),
            "lon": pd.to_numeric(noise["lon"], errors="coerce").to_numpy(dtype=float),
            "weight": pd.to_numeric(noise["weight"], errors="coerce").to_numpy(dtype=float),
        }
    ).dropna()
    n_noise = len(frame)
    if n_noise <= max_points:
        return frame.assign(locations=1).reset_index(drop=True), None, n_noise
    for grid in _NOISE_GRID_DEG:
        keys = pd.DataFrame(
            {
                "i": np.floor(frame["lat"].to_numpy() / grid).astype(np.int64),
                "j": np.floor(frame["lon"].to_numpy() / grid).astype(np.int64),
            }
        )
        if keys.drop_duplicates().shape[0] <= max_points or grid == _NOISE_GRID_DEG[-1]:
            break
    w = frame["weight"].to_numpy()
    w_pos = np.where(w > 0, w, 1e-12)
    work = keys.assign(
        wlat=frame["lat"].to_numpy() * w_pos,
        wlon=frame["lon"].to_numpy() * w_pos,
        w=w_pos,
        weight=w,
        locations=1,
    )
    agg = work.groupby(["i", "j"], sort=True)[["wlat", "wlon", "w", "weight", "locations"]].sum()
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


def _d3_winding(geometry: dict[str, Any]) -> dict[str, Any]:
    """Reverse every ring of an RFC 7946 (right-hand rule) Polygon or MultiPolygon.

    plotly.js draws GeoJSON with d3-geo, which reads rings on the sphere the other way
    round: an exterior ring must run clockwise, or the polygon is taken as the rest of
    the globe.
    """
    if geometry["type"] == "Polygon":
        coords = [ring[::-1] for ring in geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        coords = [[ring[::-1] for ring in poly] for poly in geometry["coordinates"]]
    else:
        return geometry
    return {"type": geometry["type"], "coordinates": coords}


def _countries() -> dict[str, Any]:
    doc = json.loads(_static("countries_110m.geojson"))
    features = [
        {"type": "Feature", "id": f["id"], "geometry": _d3_winding(f["geometry"])}
        for f in doc["features"]
    ]
    return {"type": "FeatureCollection", "features": features}


def _footprints(clusters: pd.DataFrame) -> dict[str, Any]:
    """Cluster footprints as GeoJSON for the map (split at the antimeridian)."""
    import shapely

    features = []
    geoms = clusters["geometry"] if "geometry" in clusters.columns else [None] * len(clusters)
    for cid, geom in zip(clusters["cluster_id"], geoms, strict=True):
        split = split_antimeridian(geom)
        if split is None:
            continue
        mapping = json.loads(shapely.to_geojson(split))
        mapping["coordinates"] = _round_coords(mapping["coordinates"])
        features.append({"type": "Feature", "id": str(cid), "geometry": _d3_winding(mapping)})
    return {"type": "FeatureCollection", "features": features}


def _profiles(result: RunResult, ids: set[str]) -> dict[str, list[dict[str, Any]]] | None:
    """Top 3 organisations and fields per cluster and metric, from ``extras["profiles"]``.

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
    out: dict[str, list[dict[str, Any]]] = {}
    for row in frame.itertuples(index=False):
        out.setdefault(str(row.cluster_id), []).append(
            {
                "metric": _plain(row.metric),
                "kind": _plain(row.kind),
                "value": _plain(row.value),
                "share": _plain(row.share),
            }
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
        decimals = DECIMALS.get(column, 4)
        if column in ("rank", "intensity_rank") and v.is_integer():
            return str(int(v)), repr(v)
        text = f"{v:,.{decimals}f}" if column not in ("lat", "lon") else f"{v:.{decimals}f}"
        return text, repr(v)
    return str(v), str(v)


def _table(frame: pd.DataFrame, *, numeric: set[str]) -> dict[str, Any]:
    columns = [str(c) for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        rows.append([_format_cell(c, v) for c, v in zip(columns, values, strict=True)])
    return {"columns": columns, "rows": rows, "numeric": [c in numeric for c in columns]}


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
        by_file = [(str(k), int(n)) for k, n in files.head(30).items()]
    return {"total": len(rejects), "by_reason": by_reason, "by_file": by_file}


def _window_text(windows: Any, metric: str) -> str:
    if not isinstance(windows, Mapping):
        return ""
    w = windows.get(metric)
    if isinstance(w, Mapping):
        first = w.get("first", w.get("first_year"))
        last = w.get("last", w.get("last_year"))
        if first is not None and last is not None:
            return f"{first}–{last}"
        years = w.get("years")
        if isinstance(years, list | tuple) and len(years) == 2:
            return f"{years[0]}–{years[1]}"
    if isinstance(w, list | tuple) and len(w) == 2:
        return f"{w[0]}–{w[1]}"
    return ""


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
        "Clusters of different metrics that overlap are merged into one area, across borders; "
        "all activity inside the area counts for it. Each cluster's count of a metric is "
        "expressed as a share (%) of that metric's world total (noise included); the score "
        "is the sum of the shares"
        + (
            " weighted by " + ", ".join(f"{k} × {s.weight_of(k):g}" for k in metrics)
            if any(s.weight_of(k) != 1.0 for k in metrics)
            else ", every metric weighted equally"
        )
        + f". The top {top} clusters by score form the ranking.",
        "Intensity is the cluster's activity per million inhabitants of its area, where the "
        "population is known. The economies listed for a cluster are those holding at "
        f"least {s.economy_min_share:.0%} of its activity.",
    ]
    return paragraphs


def _context(result: RunResult) -> dict[str, Any]:
    clusters = result.clusters
    metrics: Sequence[str] = result.metrics
    top = top_n(clusters, top=result.settings.top)
    table = ranking_table(clusters)
    numeric = {c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])}
    per_metric = top_by_metric(clusters, metrics, n=10)
    per_economy = clusters_per_economy(clusters, top=top)
    intensity = intensity_ranking(clusters, metrics)
    cells, grid_deg, n_noise = noise_cells(result.locations)
    ids = [str(c) for c in clusters["cluster_id"]]
    manifest = result.manifest
    data = {
        "meta": {
            "top": top,
            "metrics": list(metrics),
            "metric_labels": {k: _METRIC_LABELS.get(k, k) for k in metrics},
            "synthetic": bool(manifest.get("synthetic")),
        },
        "fields": [str(c) for c in table.columns],
        "clusters": _records(table),
        "footprints": _footprints(clusters),
        "countries": _countries(),
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
    }
    inputs = [
        {str(k): _plain(v) for k, v in entry.items()}
        for entry in manifest.get("inputs", [])
        if isinstance(entry, Mapping)
    ]
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
            _window_text(manifest.get("windows", {}), m),
        )
        for m in metrics
    ]
    return {
        "title": "innoclusters: innovation cluster ranking",
        "version": manifest.get("versions", {}).get("innoclusters", __version__),
        "synthetic": bool(manifest.get("synthetic")),
        "notice": manifest.get("notice", ""),
        "n_clusters": len(clusters),
        "top": top,
        "metrics": list(metrics),
        "metric_labels": _METRIC_LABELS,
        "table": _table(table, numeric=numeric),
        "intensity_table": _table(intensity, numeric=set(intensity.columns) - {"name"})
        if len(intensity)
        else None,
        "economy_table": _table(per_economy, numeric={"top_clusters", "all_clusters"}),
        "sections": _sections(result),
        "noise": {"n": n_noise, "shown": len(cells), "grid_deg": grid_deg},
        "settings_rows": settings_rows,
        "rows": manifest.get("rows", {}),
        "totals_rows": totals_rows,
        "inputs": inputs,
        "input_columns": input_columns,
        "rejects": _rejects_summary(result.rejects),
        "method": _method(result, top),
        "timings": manifest.get("timings_s", {}),
        "data_json": safe_json(data),
        "plotly_js": _plotly_js(),
        "css": _static("report.css"),
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
