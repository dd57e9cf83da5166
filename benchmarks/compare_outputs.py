"""Compare two output folders of the pipeline file by file (run by hand, or by bench_world).

Usage::

    python -m benchmarks.compare_outputs OUT_A OUT_B

The rule, per file present in either folder:

- identical bytes: ``identical``;
- ``manifest.json``: equal once the entries that describe the run rather than its results are
  removed: ``timings_s``, ``resources`` (CPU seconds, peak memory), ``created`` and the
  ``memory_limit`` setting;
- ``report.html`` and ``clusters.xlsx`` (both show the settings): every differing text line (HTML)
  or cell (each worksheet's values, read with openpyxl) must mention ``memory_limit`` or be in the
  same row as it; any other difference fails;
- anything else (``clusters.csv``, ``clusters.geojson``, ``locations.parquet``, ``profiles.csv``,
  ``links.csv``, ``rejects.csv``, ...) must be byte-identical.

Exit status 0 when the folders agree by this rule, 1 otherwise; one line per file either way.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

import openpyxl

RUN_ONLY = ("timings_s", "resources", "created")
SETTING = "memory_limit"


def _manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for key in RUN_ONLY:
        data.pop(key, None)
    data.get("settings", {}).pop(SETTING, None)
    return data


def _html(a: Path, b: Path) -> str:
    lines_a = a.read_text(encoding="utf-8").splitlines()
    lines_b = b.read_text(encoding="utf-8").splitlines()
    changed = [
        line
        for line in difflib.unified_diff(lines_a, lines_b, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    other = [line for line in changed if SETTING not in line]
    if other:
        return f"DIFFERENT ({len(other)} changed lines besides {SETTING}): {other[0][:120]!r}"
    return f"same except the {SETTING} setting ({len(changed)} changed lines)"


def _xlsx(a: Path, b: Path) -> str:
    wa = openpyxl.load_workbook(a, read_only=True)
    wb = openpyxl.load_workbook(b, read_only=True)
    if wa.sheetnames != wb.sheetnames:
        return f"DIFFERENT sheets: {wa.sheetnames} vs {wb.sheetnames}"
    allowed = 0
    for name in wa.sheetnames:
        rows_a = [tuple(r) for r in wa[name].iter_rows(values_only=True)]
        rows_b = [tuple(r) for r in wb[name].iter_rows(values_only=True)]
        if len(rows_a) != len(rows_b):
            return f"DIFFERENT: sheet {name!r} has {len(rows_a)} vs {len(rows_b)} rows"
        for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=True)):
            if ra == rb:
                continue
            if any(SETTING in str(v) for v in (*ra, *rb)):
                allowed += 1
                continue
            return f"DIFFERENT: sheet {name!r} row {i + 1}: {ra!r} vs {rb!r}"
    return f"same cells except the {SETTING} setting ({allowed} rows)"


def compare(a: Path, b: Path) -> tuple[bool, list[str]]:
    """Compare output folders ``a`` and ``b``; return (all agree, one line per file)."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    ok = True
    lines = []
    for name in names:
        pa, pb = a / name, b / name
        if not (pa.is_file() and pb.is_file()):
            ok = False
            lines.append(f"{name}: MISSING in {'b' if pa.is_file() else 'a'}")
            continue
        if pa.read_bytes() == pb.read_bytes():
            lines.append(f"{name}: identical ({pa.stat().st_size:,} bytes)")
            continue
        if name == "manifest.json":
            same = _manifest(pa) == _manifest(pb)
            verdict = (
                f"same except {', '.join(RUN_ONLY)} and the {SETTING} setting"
                if same
                else "DIFFERENT beyond timings, resources and the memory_limit setting"
            )
        elif name.endswith(".html"):
            verdict = _html(pa, pb)
        elif name.endswith(".xlsx"):
            verdict = _xlsx(pa, pb)
        else:
            verdict = "DIFFERENT bytes"
        ok = ok and not verdict.startswith("DIFFERENT")
        lines.append(f"{name}: {verdict}")
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    """Print one line per file and exit 0 when the two folders agree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    ok, lines = compare(args.a, args.b)
    print("\n".join(lines))
    print("outputs agree" if ok else "outputs DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
