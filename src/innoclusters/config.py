"""Frozen settings for one run, loaded from keywords or a TOML file and validated at the edge.

Every setting of the method lives in :class:`Settings`; one instance is made per run, checked
once, and written whole into ``manifest.json``. Validation collects every problem before raising
so that a user fixes a settings file in one pass.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from innoclusters.errors import SettingsError

__all__ = [
    "DEFAULT_EDITION_OFFSETS",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_MIN_SHARE",
    "DEFAULT_UNCERTAINTY",
    "DEMO_UNCERTAINTY",
    "ENGINES",
    "METRICS",
    "UNCERTAINTY_ENV",
    "Settings",
    "default_uncertainty",
    "load_settings",
    "memory_bytes",
    "parse_method",
]

#: The three metrics of the GII cluster method, in output order.
METRICS: tuple[str, ...] = ("patents", "publications", "vc")

#: Calibrated default core density per metric, as a fraction of the metric's world total
#: (see docs/calibration.md). A location is core when the weight within ``eps_km`` reaches
#: ``min_share`` times the metric's world total.
DEFAULT_MIN_SHARE: Mapping[str, float] = MappingProxyType(
    {"patents": 0.0012, "publications": 0.0005, "vc": 0.003}
)

#: The run's memory limit unless set (DuckDB gets it minus what the clustering needs:
#: :func:`innoclusters.pipeline.duckdb_memory_limit`); a world-scale run (about 45 M
#: address rows) then stays under 4 GiB. DuckDB's own default, 80 % of the machine's
#: memory, would leave nothing for the clustering's arrays, which live outside DuckDB.
DEFAULT_MEMORY_LIMIT = "4GB"

#: Rank uncertainty replicates per source (data, method, both) when neither the settings
#: nor the command line say: rank uncertainty is on by default (docs/uncertainty.md).
DEFAULT_UNCERTAINTY = 100

#: The demo's replicates per source: fewer, so that ``innoclusters demo`` stays under a
#: minute on two cores; ``innoclusters uncertainty DEMO_DIR`` adds the full count.
DEMO_UNCERTAINTY = 20

#: Environment variable that replaces those two defaults (e.g. ``0`` on a machine or in a
#: test suite that wants no uncertainty unless asked for).
UNCERTAINTY_ENV = "INNOCLUSTERS_UNCERTAINTY"

#: Engines that read the records and aggregate the locations and profiles.
ENGINES: tuple[str, ...] = ("duckdb", "spark")

# A Spark master URL: local, local[N], local[*], local[N,F], spark://, yarn, k8s://, mesos://
# or a Spark Connect sc:// address.
_SPARK_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\s*\d+)?\])?|yarn|(spark|k8s|mesos|sc)://\S+)$")

# A size as DuckDB's memory_limit accepts it: a number and a unit. DuckDB's KB, MB... are
# powers of 1000, its KiB, MiB... powers of 1024.
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})

#: The GII's year window of edition ``Y`` per metric, as offsets ``(first, last)`` from ``Y``:
#: patents ``Y-5..Y-1``, publications ``Y-6..Y-2``, venture-capital deals ``Y-5..Y-1``
#: (GII 2024: PCT 2019-2023, articles 2018-2022). See docs/editions.md.
DEFAULT_EDITION_OFFSETS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"patents": (-5, -1), "publications": (-6, -2), "vc": (-5, -1)}
)

#: The settings that are tables (``metric -> value``); :class:`Settings` holds them as
#: read-only mappings whose values are numbers or tuples.
_TABLES: tuple[str, ...] = (
    "min_weight",
    "min_share",
    "metric_weights",
    "years",
    "edition_offsets",
    "also_method",
)


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a settings table; list values (TOML arrays) become tuples."""
    return MappingProxyType({k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


@dataclasses.dataclass(frozen=True)
class Settings:
    """All settings of one run, immutable all the way down.

    The per-metric tables are stored as read-only mappings (``types.MappingProxyType``)
    holding numbers and tuples, so neither ``s.eps_km = 1`` nor
    ``s.min_share["patents"] = 5.0`` can change a run's settings after validation; use
    :meth:`replace` for a changed copy. Instances pickle and deep-copy.

    Parameters
    ----------
    eps_km
        DBSCAN radius in great-circle kilometres.
    min_weight
        Absolute core density per metric (summed fractional weight within ``eps_km``).
        Overrides ``min_share`` for the metrics it names.
    min_share
        Core density per metric as a fraction of that metric's world total
        (``0.0005`` is 0.05 %). Metrics not named use :data:`DEFAULT_MIN_SHARE`.
    rounding
        Coordinate rounding in degrees before clustering; it must divide 90 degrees a
        whole number of times (0.01, 0.05, 0.25, ...), so that the poles and the
        antimeridian are grid lines and no cell straddles them.
    metrics
        Metrics that rank; empty means every metric present in the input.
    metric_weights
        Weight of each metric's share in the score; metrics not named weigh 1.
    years
        Window per metric as ``(first, last)`` inclusive; metrics not named use the latest
        ``window_years`` years present in their data.
    window_years
        Length of the default window.
    edition
        Edition year ``Y``: metrics not named in ``years`` use the window ``Y + offset``
        of ``edition_offsets`` (the GII's by default) instead of the latest years in the data.
    edition_offsets
        Window of an edition per metric as offsets ``(first, last)`` from the edition year;
        metrics not named use :data:`DEFAULT_EDITION_OFFSETS`.
    top
        Size of the headline ranking.
    emerging
        Number of clusters ranked just below ``top`` listed as emerging clusters (0: none).
    also_method
        A second method ranking the same areas, as ``metric = weight`` (e.g. patents and
        publications weighing 1, the GII's method up to 2024); empty for none.
    economy_min_share
        An economy is listed for a cluster when it holds at least this fraction of the
        cluster's activity (the largest economy is always listed).
    name_max_places
        At most this many place names make a cluster's name.
    name_min_share
        A place joins a cluster's name when it holds at least this fraction of the cluster's
        activity (the most active place always does).
    name_max_km
        A gazetteer place can name a cluster when it lies within this many km of one of the
        cluster's locations (docs/places.md).
    name_min_population_ratio
        A place can name a cluster only when its population is at least this fraction of
        the most populous such place (so suburbs do not name a metropolis).
    workers
        Threads for the parallel stages; 0 means all cores. Results do not depend on it.
    uncertainty
        Rank uncertainty replicates per source (data, method, both); 0 for none
        (:mod:`innoclusters.uncertainty`). By default :func:`default_uncertainty`
        (:data:`DEFAULT_UNCERTAINTY`, 100, unless the environment variable
        :data:`UNCERTAINTY_ENV` says otherwise), and 0 with the Spark engine.
    uncertainty_seed
        Seed of the uncertainty replicates; the same seed gives the same results.
    uncertainty_eps_km
        ``[low, high]`` range of ``eps_km`` in the method draws.
    uncertainty_density
        ``[low, high]`` range of the multiplier of each metric's core density.
    uncertainty_methods
        Methods drawn, as in ``also_method`` (``""`` is the run's own); by default the run's
        and the GII's two-metric method up to 2024 (``"patents,publications"``).
    uncertainty_rounding_factors
        Roundings drawn, as whole multiples of ``rounding``.
    uncertainty_window_years
        Window lengths drawn (years ending in the run's last year per metric).
    uncertainty_grid
        Values per choice in the what-if grid and the one-at-a-time sensitivity runs: 5
        (each range's ends, the run's value and the midpoints) or 3 (the ends and the run's
        value: 18 what-if runs instead of 50, as the demo does).
    encoding
        Text encoding of the CSV, TSV and JSON Lines inputs (``utf-8``, ``latin-1``,
        ``cp1252``, ...).
    sources
        Per metric, the source format of its files and that format's settings, e.g.
        ``[sources.vc] format = "table"`` with ``columns = {doc_id = "Deal ID"}`` (see
        ``docs/sources.md``); metrics not named are detected from their files.
    memory_limit
        Memory the whole run may use, e.g. ``"8GB"``: DuckDB gets it minus what the
        clustering's frames and arrays need (a reserve of 1.25 GiB, and 320 bytes per
        location once the locations are known; see
        :func:`innoclusters.pipeline.duckdb_memory_limit`) and spills beyond its share to a
        temporary folder. Default ``"4GB"``: a world-scale run (about 45 M address rows)
        stays under it; raise it on a large machine for a faster records stage. Empty:
        DuckDB's own default (80 % of the machine's memory) and no limit on the rest.
        Results do not depend on it.
    engine
        Where the records, locations and profile pre-aggregation run: ``"duckdb"`` (embedded,
        one machine) or ``"spark"`` (Apache Spark through PySpark, on any master; see
        ``docs/spark.md``). Clustering, ranking and publishing run on this machine (the
        Spark driver) in both. The locations table and ``clusters.csv`` are identical.
    spark_master
        The Spark master URL for ``engine = "spark"`` (``local[4]``, ``spark://host:7077``,
        ``yarn``, ``k8s://...``, ``sc://...``); empty: the master of the running or
        ``spark-submit`` session, else ``local[*]``.
    """

    eps_km: float = 13.0
    min_weight: Mapping[str, float] = dataclasses.field(default_factory=dict)
    min_share: Mapping[str, float] = dataclasses.field(default_factory=dict)
    rounding: float = 0.01
    metrics: tuple[str, ...] = ()
    metric_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    years: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    window_years: int = 5
    edition: int | None = None
    edition_offsets: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    top: int = 100
    emerging: int = 0
    also_method: Mapping[str, float] = dataclasses.field(default_factory=dict)
    economy_min_share: float = 0.1
    name_max_places: int = 3
    name_min_share: float = 0.1
    name_max_km: float = 10.0
    name_min_population_ratio: float = 0.15
    workers: int = 0
    # None (the default) becomes default_uncertainty(), or 0 with the Spark engine, when
    # the settings are made: the attribute is always a whole number.
    uncertainty: int = None  # type: ignore[assignment]
    uncertainty_seed: int = 0
    uncertainty_eps_km: tuple[float, float] = (10.0, 16.0)
    uncertainty_density: tuple[float, float] = (0.67, 1.5)
    uncertainty_methods: tuple[str, ...] = ("", "patents,publications")
    uncertainty_rounding_factors: tuple[int, ...] = (1, 2, 5)
    uncertainty_window_years: tuple[int, ...] = (4, 5, 6)
    uncertainty_grid: int = 5
    encoding: str = "utf-8"
    sources: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    engine: str = "duckdb"
    spark_master: str = ""

    def __post_init__(self) -> None:
        if self.uncertainty is None:
            # The Spark engine cannot rerun the records: no uncertainty unless asked for
            # (then it says how to get it).
            replicates = 0 if self.engine == "spark" else default_uncertainty()
            object.__setattr__(self, "uncertainty", replicates)
        for name in _TABLES:
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _frozen(value))
        problems = _problems(self)
        if problems:
            raise SettingsError("; ".join(problems))

    def __getstate__(self) -> dict[str, Any]:
        # Read-only mappings do not pickle: store plain dicts, freeze them again on load.
        return {
            f.name: dict(v) if isinstance(v := getattr(self, f.name), Mapping) else v
            for f in dataclasses.fields(self)
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, _frozen(value) if name in _TABLES else value)

    def density_for(self, metric: str, world_total: float) -> float:
        """Return the absolute core density (``min_weight``) of ``metric``."""
        if metric in self.min_weight:
            return float(self.min_weight[metric])
        share = self.min_share.get(metric, DEFAULT_MIN_SHARE[metric])
        return float(share) * float(world_total)

    def weight_of(self, metric: str) -> float:
        """Return the weight of ``metric``'s share in the score."""
        return float(self.metric_weights.get(metric, 1.0))

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, as written into ``manifest.json``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Mapping):
                value = {k: (list(v) if isinstance(v, tuple) else v) for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["edition_offsets_effective"] = {
            m: list(self.edition_offsets.get(m, DEFAULT_EDITION_OFFSETS[m])) for m in METRICS
        }
        out["min_share_effective"] = {
            m: self.min_share.get(m, DEFAULT_MIN_SHARE[m])
            for m in METRICS
            if m not in self.min_weight
        }
        return out


def _known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _divides_90(rounding: float) -> bool:
    """Whether ``90 / rounding`` is a whole number (to float precision)."""
    steps = 90.0 / rounding
    return abs(steps - round(steps)) <= 1e-9 * steps


def _check_metric_map(name: str, value: object, problems: list[str], *, positive: bool) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"setting '{name}' must be a table of metric = number, got {value!r}")
        return
    for key, v in value.items():
        if key not in METRICS:
            problems.append(
                f"setting '{name}' names unknown metric '{key}'; use one of {', '.join(METRICS)}"
            )
        elif not _is_number(v) or (v <= 0 if positive else v < 0):
            need = "a number > 0" if positive else "a number >= 0"
            problems.append(f"setting '{name}.{key}' must be {need}, got {v!r}")


def _problems(s: Settings) -> list[str]:
    problems: list[str] = []
    if not _is_number(s.eps_km) or not 0.001 <= s.eps_km <= 2000:
        problems.append(f"setting 'eps_km' must be a number in [0.001, 2000] km, got {s.eps_km!r}")
    if not _is_number(s.rounding) or not 0 < s.rounding <= 1:
        problems.append(
            f"setting 'rounding' must be a number in (0, 1] degrees, got {s.rounding!r}"
        )
    elif not _divides_90(s.rounding):
        problems.append(
            f"setting 'rounding' must divide 90 degrees a whole number of times, so that the "
            f"poles and the antimeridian are grid lines, got {s.rounding!r} "
            f"(90 / {s.rounding!r} = {90 / s.rounding:.4g}); use e.g. 0.001, 0.01, 0.05, 0.1, "
            "0.25, 0.5 or 1"
        )
    _check_metric_map("min_weight", s.min_weight, problems, positive=True)
    _check_metric_map("min_share", s.min_share, problems, positive=True)
    if isinstance(s.min_share, Mapping):
        for key, v in s.min_share.items():
            if _is_number(v) and v >= 1:
                problems.append(
                    f"setting 'min_share.{key}' is a fraction of the world total and must be < 1, "
                    f"got {v!r} (0.0005 means 0.05 %)"
                )
    _check_metric_map("metric_weights", s.metric_weights, problems, positive=False)
    if not isinstance(s.metrics, tuple) or any(m not in METRICS for m in s.metrics):
        problems.append(
            f"setting 'metrics' must list metrics among {', '.join(METRICS)}, got {s.metrics!r}"
        )
    if not isinstance(s.years, Mapping):
        problems.append(
            f"setting 'years' must be a table of metric = [first, last], got {s.years!r}"
        )
    else:
        for key, window in s.years.items():
            if key not in METRICS:
                problems.append(f"setting 'years' names unknown metric '{key}'")
                continue
            ok = (
                isinstance(window, tuple | list)
                and len(window) == 2
                and all(isinstance(y, int) and not isinstance(y, bool) for y in window)
                and window[0] <= window[1]
            )
            if not ok:
                problems.append(
                    f"setting 'years.{key}' must be [first, last] years with first <= last, "
                    f"got {window!r}"
                )
    _check_editions(s, problems)
    _check_uncertainty(s, problems)
    _check_metric_map("also_method", s.also_method, problems, positive=False)
    if (
        isinstance(s.also_method, Mapping)
        and s.also_method
        and not any(_is_number(v) and v > 0 for v in s.also_method.values())
    ):
        problems.append("setting 'also_method' needs at least one metric with a weight > 0")
    for name, lo in (
        ("window_years", 1),
        ("top", 1),
        ("emerging", 0),
        ("name_max_places", 1),
        ("workers", 0),
    ):
        v = getattr(s, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            problems.append(f"setting '{name}' must be a whole number >= {lo}, got {v!r}")
    for name in ("economy_min_share", "name_min_share", "name_min_population_ratio"):
        v = getattr(s, name)
        if not _is_number(v) or not 0 <= v <= 1:
            problems.append(f"setting '{name}' must be a fraction in [0, 1], got {v!r}")
    if not isinstance(s.sources, Mapping) or not all(
        m in METRICS and isinstance(v, Mapping) for m, v in s.sources.items()
    ):
        problems.append(
            "setting 'sources' must be tables [sources.<metric>] for metrics "
            f'{", ".join(METRICS)}, e.g. [sources.vc] format = "table"'
        )
    if not isinstance(s.encoding, str) or not _known_encoding(s.encoding):
        problems.append(
            f"setting 'encoding' must be a text encoding such as utf-8, latin-1 or cp1252, "
            f"got {s.encoding!r}"
        )
    if not isinstance(s.memory_limit, str) or s.memory_limit:
        try:
            memory_bytes(s.memory_limit)
        except SettingsError as exc:
            problems.append(str(exc))
    if s.engine not in ENGINES:
        problems.append(f"setting 'engine' must be one of {', '.join(ENGINES)}, got {s.engine!r}")
    if not isinstance(s.spark_master, str) or (
        s.spark_master and not _SPARK_MASTER.match(s.spark_master)
    ):
        problems.append(
            "setting 'spark_master' must be a Spark master URL such as local[4], "
            f"spark://host:7077, yarn or k8s://https://host:443, got {s.spark_master!r}"
        )
    if not _is_number(s.name_max_km) or not 0 < s.name_max_km <= 500:
        problems.append(
            f"setting 'name_max_km' must be a number in (0, 500] km, got {s.name_max_km!r}"
        )
    return problems


def memory_bytes(size: str) -> int:
    """Bytes of a size as DuckDB reads it: ``"8GB"`` is 8e9, ``"512 MiB"`` 512 * 2**20.

    Raises
    ------
    SettingsError
        When ``size`` is not a number and a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).
    """
    found = _SIZE.fullmatch(size) if isinstance(size, str) else None
    if found is None or found.group(2).upper() not in _UNITS:
        raise SettingsError(
            f'setting \'memory_limit\' must be a size such as "4GB" or "512MB" (empty for '
            f"DuckDB's default), got {size!r}"
        )
    return int(float(found.group(1)) * _UNITS[found.group(2).upper()])


def default_uncertainty(fallback: int = DEFAULT_UNCERTAINTY) -> int:
    """Rank uncertainty replicates per source when neither the settings nor the command say.

    Parameters
    ----------
    fallback
        The count when the environment variable :data:`UNCERTAINTY_ENV` is not set
        (:data:`DEFAULT_UNCERTAINTY` for a run, :data:`DEMO_UNCERTAINTY` for the demo).

    Raises
    ------
    SettingsError
        When the environment variable is set to anything but a whole number >= 0.
    """
    text = os.environ.get(UNCERTAINTY_ENV, "").strip()
    if not text:
        return fallback
    if not (text.isascii() and text.isdigit()):
        raise SettingsError(
            f"environment variable {UNCERTAINTY_ENV} must be a whole number >= 0 (rank "
            f"uncertainty replicates per source; 0 for none), got {text!r}"
        )
    return int(text)


def _whole(v: object, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _check_uncertainty(s: Settings, problems: list[str]) -> None:
    for name in ("uncertainty", "uncertainty_seed"):
        if not _whole(getattr(s, name), 0):
            problems.append(
                f"setting '{name}' must be a whole number >= 0, got {getattr(s, name)!r}"
            )
    for name, floor in (("uncertainty_eps_km", 0.001), ("uncertainty_density", 0.0)):
        pair = getattr(s, name)
        if not (
            isinstance(pair, tuple | list)
            and len(pair) == 2
            and all(_is_number(v) and v > floor for v in pair)
            and pair[0] <= pair[1]
        ):
            problems.append(
                f"setting '{name}' must be [low, high] numbers > {floor:g} with low <= high, "
                f"got {pair!r}"
            )
    if not (
        isinstance(s.uncertainty_methods, tuple | list)
        and all(isinstance(v, str) for v in s.uncertainty_methods)
        and s.uncertainty_methods
    ):
        problems.append(
            "setting 'uncertainty_methods' must list methods such as \"patents,publications\" "
            f'("" for the run\'s own), got {s.uncertainty_methods!r}'
        )
    if s.uncertainty_grid not in (3, 5) or isinstance(s.uncertainty_grid, bool):
        problems.append(f"setting 'uncertainty_grid' must be 3 or 5, got {s.uncertainty_grid!r}")
    for name, lo in (("uncertainty_rounding_factors", 1), ("uncertainty_window_years", 1)):
        values = getattr(s, name)
        if not (isinstance(values, tuple | list) and values and all(_whole(v, lo) for v in values)):
            problems.append(f"setting '{name}' must list whole numbers >= {lo}, got {values!r}")


def _check_editions(s: Settings, problems: list[str]) -> None:
    edition = s.edition
    if edition is not None and (
        not isinstance(edition, int) or isinstance(edition, bool) or not 1900 <= edition <= 2100
    ):
        problems.append(f"setting 'edition' must be a year in 1900-2100, got {edition!r}")
    if not isinstance(s.edition_offsets, Mapping):
        problems.append(
            "setting 'edition_offsets' must be a table of metric = [first, last] offsets, "
            f"got {s.edition_offsets!r}"
        )
        return
    for key, pair in s.edition_offsets.items():
        if key not in METRICS:
            problems.append(f"setting 'edition_offsets' names unknown metric '{key}'")
        elif not (
            isinstance(pair, tuple | list)
            and len(pair) == 2
            and all(isinstance(y, int) and not isinstance(y, bool) for y in pair)
            and pair[0] <= pair[1]
        ):
            problems.append(
                f"setting 'edition_offsets.{key}' must be [first, last] whole-year offsets "
                f"with first <= last (the GII's patents window is [-5, -1]), got {pair!r}"
            )


def parse_method(text: str) -> dict[str, float]:
    """Parse a method given as text: ``"patents,publications"`` or ``"patents=2,vc=1"``.

    Parameters
    ----------
    text
        Comma-separated metric names, each optionally ``=weight`` (1 when omitted).

    Returns
    -------
    dict
        ``metric -> weight``.

    Raises
    ------
    SettingsError
        When a part is not ``metric`` or ``metric=number``.
    """
    method: dict[str, float] = {}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        name, _, weight = part.partition("=")
        name = name.strip().lower()
        try:
            method[name] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise SettingsError(
                f"setting 'also_method': '{part}' is not metric or metric=weight; "
                "write e.g. patents,publications or patents=2,vc=1"
            ) from None
    if not method:
        raise SettingsError(
            "setting 'also_method' is empty; write e.g. patents,publications or patents=2,vc=1"
        )
    return method


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Build validated :class:`Settings` from an optional TOML file and keyword overrides.

    Parameters
    ----------
    path
        A TOML file whose top-level keys are :class:`Settings` fields (tables for the
        per-metric settings, e.g. ``[min_share] patents = 0.0005``).
    **overrides
        Settings given on the command line or in code; ``None`` values are ignored.

    Raises
    ------
    SettingsError
        Naming the file and every unknown key or invalid value.
    """
    values: dict[str, Any] = {}
    where = ""
    if path is not None:
        p = Path(path)
        where = f"{p}: "
        if not p.is_file():
            raise SettingsError(f"settings file {p} does not exist or is not a file")
        try:
            values = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{p}: not valid TOML ({exc}); fix the syntax") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(
            f"{where}unknown setting(s) {', '.join(unknown)}; known settings are "
            f"{', '.join(sorted(known))}"
        )
    if "metrics" in values and isinstance(values["metrics"], list | tuple):
        values["metrics"] = tuple(values["metrics"])
    if isinstance(values.get("also_method"), str):
        values["also_method"] = parse_method(values["also_method"])
    if isinstance(values.get("edition_offsets"), Mapping):
        values["edition_offsets"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values["edition_offsets"].items()
        }
    for key in (
        "uncertainty_eps_km",
        "uncertainty_density",
        "uncertainty_methods",
        "uncertainty_rounding_factors",
        "uncertainty_window_years",
    ):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    if isinstance(values.get("years"), Mapping):
        values["years"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values["years"].items()
        }
    try:
        return Settings(**values)
    except SettingsError as exc:
        raise SettingsError(f"{where}{exc}") from None
