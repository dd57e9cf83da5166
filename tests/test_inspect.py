"""``innoclusters inspect`` stays light: it reads, validates and counts without pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_inspect_loads_no_pandas_numpy_or_pyarrow(tmp_path: Path) -> None:
    # pandas with NumPy and PyArrow take about 0.4 s to import, a quarter of the command
    # on a million rows (issue 10: "in a second or two").
    path = tmp_path / "p.csv"
    path.write_text(
        "doc_id,year,lat,lon,country\na,2020,48.1,11.6,DE\na,2020,52.5,13.4,DE\n"
        "b,20x0,1,2,US\n\nc,2021,,,Narnia\n",
        encoding="utf-8",
    )
    code = (
        "import sys, atexit; "
        "atexit.register(lambda: print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') "
        "if m in sys.modules))); "
        f"sys.argv = ['innoclusters', 'inspect', {str(path)!r}]; "
        "from innoclusters.cli import main; main()"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "[]"
    text = "\n".join(lines)
    assert "rows: 4 read = 2 usable + 0 filtered + 2 with problems" in text
    assert "line 4" in text and "line 6" in text
