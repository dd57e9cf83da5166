"""Runs as comparisons see them: a finished output folder or an in-memory result."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from innoclusters._io import MANIFEST, read_manifest
from innoclusters.config import METRICS
from innoclusters.editions import window_label
from innoclusters.errors import InputError
from innoclusters.result import RunResult

__all__ = ["RUN_FILES", "RunView", "read_run", "view_of"]

#: Files an output folder must have to be compared.
RUN_FILES: tuple[str, ...] = ("clusters.csv", "locations.parquet", MANIFEST)
_LOCATION_NEEDS = ("metric", "lat", "lon", "weight", "metric_cluster", "cluster_id")


@dataclasses.dataclass(frozen=True)
class RunView:
    """What a comparison needs of one run: its clusters, locations and manifest.

    Attributes
    ----------
    label
        How the run is named in texts: the edition year, else its windows.
    clusters
        ``clusters.csv`` as a frame, in rank order (no geometry).
    locations
        Every location with ``metric, lat, lon, weight, metric_cluster, cluster_id,
        activity``.
    manifest
        The run's ``manifest.json``.
    """

    label: str
    clusters: pd.DataFrame
    locations: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """The settings recorded in the manifest."""
        return dict(self.manifest.get("settings", {}))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics that ranked, in output order."""
        named = set(self.manifest.get("metrics", ()))
        return tuple(m for m in METRICS if m in named)

    @property
    def top(self) -> int:
        """Size of the run's headline ranking."""
        return int(self.settings.get("top", 100))


def _label(manifest: Mapping[str, Any], fallback: str) -> str:
    edition = manifest.get("settings", {}).get("edition")
    if edition is not None:
        return str(edition)
    windows = {m: w["window"] for m, w in manifest.get("windows", {}).items() if "window" in w}
    return window_label(windows) if windows else fallback


def _with_activity(locations: pd.DataFrame, manifest: Mapping[str, Any]) -> pd.DataFrame:
    if "activity" in locations.columns:
        return locations
    out = locations.copy()
    metrics = set(manifest.get("metrics", METRICS))
    weights = manifest.get("settings", {}).get("metric_weights", {})
    totals = out.groupby("metric")["weight"].sum()
    scale = {
        m: 100.0 * float(weights.get(m, 1.0)) / float(t) if m in metrics and t > 0 else 0.0
        for m, t in totals.items()
    }
    out["activity"] = out["weight"] * out["metric"].map(scale).fillna(0.0)
    return out


def read_run(folder: str | Path) -> RunView:
    """Read an output folder of an earlier run for comparison.

    Parameters
    ----------
    folder
        A folder written by ``innoclusters run`` (``clusters.csv``, ``locations.parquet``,
        ``manifest.json``).

    Returns
    -------
    RunView

    Raises
    ------
    InputError
        When the folder or one of its files is missing or unreadable.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputError(
            f"{path}: no such run folder; pass the --out folder of an earlier innoclusters run"
        )
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(
            f"{path}: not an innoclusters output folder (missing {', '.join(missing)}); pass "
            "the --out folder of an earlier innoclusters run"
        )
    manifest = read_manifest(path)
    try:
        clusters = pd.read_csv(
            path / "clusters.csv", comment="#", dtype={"cluster_id": str, "name": str}
        )
        locations = pd.read_parquet(path / "locations.parquet")
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the run ({first}); run it again") from None
    lacking = [c for c in ("rank", "cluster_id", "name") if c not in clusters.columns]
    lacking += [c for c in _LOCATION_NEEDS if c not in locations.columns]
    if lacking:
        raise InputError(
            f"{path}: clusters.csv or locations.parquet lacks column(s) "
            f"{', '.join(lacking)}; run it again with this version"
        )
    clusters["economies"] = clusters.get("economies", pd.Series("", index=clusters.index))
    clusters["economies"] = clusters["economies"].fillna("").astype(str)
    clusters = clusters.sort_values("rank", kind="stable").reset_index(drop=True)
    return RunView(
        label=_label(manifest, path.name),
        clusters=clusters,
        locations=_with_activity(locations, manifest),
        manifest=manifest,
    )


def view_of(result: RunResult, label: str | None = None) -> RunView:
    """A :class:`RunView` of an in-memory run."""
    clusters = pd.DataFrame(result.clusters.drop(columns="geometry", errors="ignore"))
    return RunView(
        label=label or _label(result.manifest, "current"),
        clusters=clusters.reset_index(drop=True),
        locations=_with_activity(result.locations, result.manifest),
        manifest=result.manifest,
    )
