"""The public surface: what ``import innoclusters`` offers, and what it does not import."""

from __future__ import annotations

import subprocess
import sys

import innoclusters


def test_public_names_resolve_to_callables() -> None:
    for name in innoclusters.__all__:
        assert hasattr(innoclusters, name), name
    assert callable(innoclusters.run) and callable(innoclusters.weighted_dbscan)


def test_import_does_not_load_optional_heavy_dependencies() -> None:
    code = (
        "import sys, innoclusters; "
        "print(','.join(m for m in ('rasterio', 'playwright', 'openpyxl', 'sklearn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
