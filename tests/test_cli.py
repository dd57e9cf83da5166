"""The command line: exit codes, one-line errors, help texts, the run command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import typer.main

from innoclusters.cli import _interrupted, _split_multi, app
from innoclusters.result import CLUSTER_COLUMNS

Writer = Callable[..., dict[str, list[Path]]]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", "from innoclusters.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_every_command_has_help_text() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert "run" in commands
    for name, command in commands.items():
        assert command.help and command.help.strip(), f"command '{name}' has no help text"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"option {param.name} of '{name}' has no help text"


def test_multi_path_options_are_expanded() -> None:
    argv = ["run", "--patents", "a.csv", "b.csv", "--vc", "c.csv", "--out", "o", "x"]
    assert _split_multi(argv) == [
        "run",
        "--patents",
        "a.csv",
        "--patents",
        "b.csv",
        "--vc",
        "c.csv",
        "--out",
        "o",
        "x",
    ]


def test_run_writes_the_output_folder(write_world: Writer, tmp_path: Path) -> None:
    sources = write_world()
    config = tmp_path / "s.toml"
    config.write_text("[min_weight]\npatents = 8\npublications = 20\nvc = 4\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cli(
        "run",
        "--patents",
        *map(str, sources["patents"]),
        "--publications",
        *map(str, sources["publications"]),
        "--vc",
        *map(str, sources["vc"]),
        "--config",
        str(config),
        "--memory-limit",
        "200MB",
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(out / "clusters.csv")
    assert list(csv.columns[: len(CLUSTER_COLUMNS)]) == list(CLUSTER_COLUMNS)
    assert len(csv) == 4
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["memory_limit"] == "200MB"
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("doc_id,lat,lon\na,1,2\n", "missing column(s) year"),
        ("doc_id;year;lat;lon\na;2020;1;2\n", "separated by semicolons"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(content, encoding="utf-8")
    proc = cli("run", "--patents", str(path), "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "clusters.csv").exists()


def test_a_latin_1_file_is_named_and_read_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("doc_id,year,city,country\na,2020,Zürich,CH\n".encode("latin-1"))
    proc = cli("run", "--patents", str(path), "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: {path}: line 2 is not valid UTF-8 text")
    assert "--encoding" in proc.stderr
    proc = cli("run", "--patents", str(path), "--out", str(tmp_path / "o"), "--encoding", "klingon")
    assert proc.returncode == 2 and "setting 'encoding'" in proc.stderr


def test_inspect_reports_the_source_format_rows_and_problems(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "sources" / "patentsview" / "granted"
    proc = cli("inspect", f"patentsview:{data}")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "g_inventor_disambiguated.tsv.zip: patentsview (patents)" in out
    assert "rows: 10 read = 5 usable + 3 filtered (patent type 2, withdrawn 1) + 2 with" in out
    assert "years: 2019-2021" in out and "countries: US 2, DE 1, GB 1, JP 1" in out
    assert "line 8 (10000005): location_id 'loc-gone' not in g_location_disambiguated" in out
    proc = cli("inspect", str(data), "--json")  # detected from the files
    (found,) = json.loads(proc.stdout)
    assert found["adapter"] == "patentsview" and found["rows_read"] == 10
    bad = tmp_path / "x.tsv"
    bad.write_text("patent_id\tname\n1\tx\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    # Files that cannot be read are problems of their own; the others are still inspected.
    proc = cli("inspect", str(bad), f"patentsview:{data}", str(empty))
    assert proc.returncode == 2
    out = proc.stdout
    assert f"{bad}: cannot be read" in out and "closest source format, patentsview, lacks" in out
    assert "rows: 10 read = 5 usable + 3 filtered (patent type 2, withdrawn 1) + 2 with" in out
    assert f"{empty}: cannot be read" in out and "the file is empty" in out
    assert proc.stderr.strip() == (
        f"Error: 2 of 3 input(s) could not be read ({bad}, {empty}); the problems are listed above"
    )


def test_directory_and_bad_settings_exit_2(tmp_path: Path) -> None:
    proc = cli("run", "--patents", str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "is a directory" in proc.stderr
    good = tmp_path / "p.csv"
    good.write_text("doc_id,year,lat,lon,country\na,2020,1,2,FR\n", encoding="utf-8")
    proc = cli("run", "--patents", str(good), "--eps-km", "-3", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "Error: setting 'eps_km' must be a number in [0.001, 2000] km, got -3.0"
    )


def test_a_partial_edition_window_is_a_warning_line_on_stderr(
    write_world: Writer, tmp_path: Path
) -> None:
    sources = write_world()
    config = tmp_path / "s.toml"
    config.write_text("[min_weight]\npatents = 8\npublications = 20\nvc = 4\n", encoding="utf-8")
    out = tmp_path / "out"
    args = [f"--{m}={p}" for m, paths in sources.items() for p in paths]
    proc = cli("run", *args, "--config", str(config), "--edition", "2028", "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("Warning: edition 2028: ") for line in lines)
    assert "patents window 2023-2027 holds patents records of 1 of its 5 years" in lines[0]
    assert "Traceback" not in proc.stderr and "warnings.warn" not in proc.stderr


def cli_patched(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console entry point in a child process after ``prelude`` (a patch)."""
    env = {**os.environ, "NO_COLOR": "1"}
    code = f"{prelude}\nfrom innoclusters.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error: ...`` line of ``proc``'s stderr (asserts there is nothing else)."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in proc.stderr
    return lines[0]


# DuckDB's own interrupt, raised inside the records' connection while a query runs: the
# patch interrupts the connection every 0.1 s until the (endless) query gives way.
INTERRUPT_IN_DUCKDB = """
import threading
import innoclusters.pipeline as pipeline
real = pipeline.read_records
def read_records(sources, *, connection, **kwargs):
    done = threading.Event()
    def interrupt():
        while not done.wait(0.1):
            connection.interrupt()
    # Joined before the command goes on: a daemon thread still inside DuckDB when the
    # interpreter exits is unwound by force, and the process aborts ("exception not rethrown").
    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    try:
        connection.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3")
    finally:
        done.set()
        thread.join()
    return real(sources, connection=connection, **kwargs)
pipeline.read_records = read_records
"""

# Ctrl-C while Python code reads the records: Python's SIGINT handler raises
# KeyboardInterrupt where the main thread is. (Raising the signal itself is not
# deterministic on CPython 3.11: another thread can clear the pending-signal check, so
# the handler may run only after ``read_records`` has returned.)
INTERRUPT_IN_PYTHON = """
import innoclusters.pipeline as pipeline
def read_records(sources, *, connection, **kwargs):
    raise KeyboardInterrupt
pipeline.read_records = read_records
"""


@pytest.mark.parametrize("prelude", [INTERRUPT_IN_DUCKDB, INTERRUPT_IN_PYTHON])
def test_interrupt_while_reading_exits_130_with_one_line(tmp_path: Path, prelude: str) -> None:
    good = tmp_path / "p.csv"
    good.write_text("doc_id,year,lat,lon,country\na,2020,1,2,FR\n", encoding="utf-8")
    out = tmp_path / "o"
    proc = cli_patched(prelude, "run", "--patents", str(good), "--out", str(out), "--quiet")
    assert proc.returncode == 130, proc.stderr
    assert one_error_line(proc).startswith("Error: interrupted")
    assert not out.exists()


def test_duckdb_2_interrupt_is_an_interrupt() -> None:
    import duckdb

    assert _interrupted(RuntimeError("Query interrupted"))
    assert _interrupted(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    assert not _interrupted(RuntimeError("something else"))


def test_huge_weight_is_rejected_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "doc_id,year,lat,lon,country,weight\na,2020,48.85,2.35,FR,1e20\nb,2020,48.85,2.35,FR,1\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    proc = cli("run", "--patents", str(path), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects["doc_id"].tolist() == ["a"]
    assert rejects["reason"].tolist() == ["weight 1e20 is above the maximum 1e+09"]
