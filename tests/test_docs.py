"""The documentation's examples run as written (as sqlite-utils tests its docs).

Every ``python`` block of the README runs in a folder holding the files it names, made from
the demo world; the worked ``docs/settings.toml`` loads into the settings it describes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from innoclusters.config import load_settings
from innoclusters.demo import generate_world

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_worked_settings_file_loads_as_documented() -> None:
    s = load_settings(ROOT / "docs" / "settings.toml")
    assert s.edition == 2025
    assert s.eps_km == 13
    assert s.top == 100 and s.emerging == 10
    assert dict(s.min_share) == {"patents": 0.0012, "publications": 0.0005, "vc": 0.003}
    assert dict(s.also_method) == {"patents": 1.0, "publications": 1.0}


def test_readme_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks(ROOT / "README.md")
    assert blocks, "the README has no python example"
    # The files the examples name, from a small demo world's records.
    world = generate_world(tmp_path / "world", scale=0.004, seed=3)
    shutil.copy(world["patents"][0], tmp_path / "pct.parquet")
    pd.read_parquet(world["publications"][0]).to_csv(tmp_path / "articles.csv", index=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    # The library example's figures are the run's: the written ranking is the returned one,
    # and the kernel finds patent clusters with core points among the run's locations.
    result = namespace["result"]
    written = pd.read_csv(tmp_path / "results" / "clusters.csv", comment="#")
    assert len(written) == len(result.clusters) > 0
    assert written["name"].tolist() == result.clusters["name"].tolist()
    labels, core = namespace["labels"], namespace["core"]
    assert labels.max() >= 0 and core.dtype == bool and core.any()
    assert not (core & (labels < 0)).any()
