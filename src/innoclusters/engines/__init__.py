"""Engines that read the records and aggregate the locations and profiles of a run.

The embedded DuckDB engine is the pipeline's own (:mod:`innoclusters.records`,
:mod:`innoclusters.locations`, :mod:`innoclusters.profiles`); :mod:`~innoclusters.engines.spark`
runs the same stages on Apache Spark for inputs beyond one machine. Choose with the
``engine`` setting (``--engine spark``); the locations table and ``clusters.csv`` are
identical.
"""

from __future__ import annotations

__all__: list[str] = []
