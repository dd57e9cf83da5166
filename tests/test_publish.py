"""The output folder as a set: replaced whole, never mixed, locked, with the user's umask.

Runs that die while writing are real child processes killed with SIGKILL at a chosen
point; the point is chosen by a patch applied in the child before the command runs.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from innoclusters._io import folder_lock
from innoclusters.cli import app
from innoclusters.errors import OutputError
from innoclusters.publish import output_folder, write_outputs
from tests._publish_data import hand_result

Writer = Callable[..., dict[str, list[Path]]]

#: Settings file that makes the toy world's cities clusters.
CONFIG = "[min_weight]\npatents = 8\npublications = 20\nvc = 4\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative name) with its SHA-256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def siblings(folder: Path) -> list[str]:
    """Hidden entries beside ``folder`` that belong to it (staging, old sets, lock)."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


@pytest.fixture
def run_args(write_world: Writer, tmp_path: Path) -> Callable[[Path], list[str]]:
    """Arguments of ``innoclusters run`` on the toy world into a given folder."""
    sources = write_world()
    config = tmp_path / "s.toml"
    config.write_text(CONFIG, encoding="utf-8")

    def args(out: Path) -> list[str]:
        return [
            "run",
            "--patents",
            str(sources["patents"][0]),
            "--publications",
            str(sources["publications"][0]),
            "--vc",
            str(sources["vc"][0]),
            "--config",
            str(config),
            "--out",
            str(out),
            "--quiet",
        ]

    return args


def child(prelude: str, args: list[str]) -> subprocess.Popen[str]:
    """Start the console entry point in a child process after ``prelude`` (a patch)."""
    code = f"{prelude}\nfrom innoclusters.cli import main\nmain()\n"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def test_rerun_replaces_the_set_and_leaves_no_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = write_outputs(hand_result(profiles=True), out)
    assert (out / "profiles.csv") in first and (out / "profiles.csv").exists()
    written = write_outputs(hand_result(profiles=False), out)
    names = sorted(p.name for p in out.iterdir())
    assert "profiles.csv" not in names  # a file of the earlier run does not survive
    assert names == sorted(p.name for p in written)
    assert siblings(out) == []  # no staging folder, old set or lock file left beside


@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_outputs_get_the_permissions_of_the_umask(
    tmp_path: Path, umask: Callable[[int], None], mask: int, file_mode: int, dir_mode: int
) -> None:
    umask(mask)
    out = tmp_path / "out"
    write_outputs(hand_result(), out)
    assert out.stat().st_mode & 0o777 == dir_mode
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert modes and set(modes.values()) == {file_mode}, modes


def test_failed_block_restores_an_old_set_left_aside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_outputs(hand_result(), out)
    before = snapshot(out)
    # What a run killed between the two renames of a swap leaves: no folder, old set aside.
    aside = tmp_path / ".out.innoclusters-old-x1"
    out.rename(aside)
    (tmp_path / ".out.innoclusters-tmp-x2").mkdir()  # and a half-written new set
    with pytest.raises(RuntimeError), output_folder(out) as folder:
        (folder / "clusters.csv").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert snapshot(out) == before
    assert siblings(out) == []


KILL_WHILE_WRITING = """
import os, signal
import innoclusters.publish as publish
real = publish.write_xlsx
def write_xlsx(result, path):
    real(result, path)  # clusters.csv, locations, rejects and geojson are written already
    os.kill(os.getpid(), signal.SIGKILL)
publish.write_xlsx = write_xlsx
"""

KILL_BETWEEN_RENAMES = """
import os, signal
import innoclusters._io as atomic
atomic._exchange = lambda a, b: False  # the two-rename swap, as on systems without renameat2
real = os.rename
def rename(a, b):
    real(a, b)
    if ".innoclusters-old-" in str(b):
        os.kill(os.getpid(), signal.SIGKILL)
os.rename = rename
"""


def test_run_killed_while_writing_leaves_the_previous_set(
    tmp_path: Path, run_args: Callable[[Path], list[str]]
) -> None:
    out = tmp_path / "out"
    code, err = finish(child("", run_args(out)))
    assert code == 0, err
    (tmp_path / "s.toml").write_text(CONFIG.replace("vc = 4", "vc = 6"), encoding="utf-8")
    before = snapshot(out)
    assert {"clusters.csv", "manifest.json", "report.html", "clusters.xlsx"} <= set(before)
    code, _ = finish(child(KILL_WHILE_WRITING, run_args(out)))
    assert code == -9
    assert snapshot(out) == before  # the previous complete set, untouched
    # The next run cleans up what the killed one left and writes a complete set.
    code, err = finish(child("", run_args(out)))
    assert code == 0, err
    assert siblings(out) == []
    after = snapshot(out)
    assert set(after) == set(before) and after != before


def test_run_killed_between_renames_leaves_the_old_set_aside_and_the_next_run_recovers(
    tmp_path: Path, run_args: Callable[[Path], list[str]]
) -> None:
    out = tmp_path / "out"
    assert finish(child("", run_args(out)))[0] == 0
    before = snapshot(out)
    code, _ = finish(child(KILL_BETWEEN_RENAMES, run_args(out)))
    assert code == -9
    assert not out.exists()  # nothing at the output path, never a mixture
    (aside,) = [p for p in tmp_path.iterdir() if ".innoclusters-old-" in p.name]
    assert snapshot(aside) == before  # the old set is complete beside it
    code, err = finish(child("", run_args(out)))
    assert code == 0, err
    assert siblings(out) == [] and set(snapshot(out)) == set(before)


def test_second_run_into_a_locked_folder_is_refused(
    tmp_path: Path, run_args: Callable[[Path], list[str]]
) -> None:
    out = tmp_path / "out"
    with folder_lock(out):
        code, err = finish(child("", run_args(out)))
    assert code == 2
    assert "another innoclusters run is writing output folder" in one_error_line(err)
    assert not out.exists()


WAIT_BEFORE_WRITING = """
import pathlib, time
import innoclusters.publish as publish
real = publish.write_files
def write_files(result, folder):
    flag = pathlib.Path(folder).parent / "ready"
    flag.write_text("", encoding="utf-8")
    while flag.exists():
        time.sleep(0.05)
    return real(result, folder)
publish.write_files = write_files
"""


def test_two_runs_at_once_one_refused_one_complete(
    tmp_path: Path, run_args: Callable[[Path], list[str]]
) -> None:
    out = tmp_path / "out"
    first = child(WAIT_BEFORE_WRITING, run_args(out))
    flag = tmp_path / "ready"
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    code, err = finish(child("", run_args(out)))  # the second run, while the first writes
    flag.unlink()
    assert code == 2 and "another innoclusters run" in one_error_line(err)
    code, err = finish(first)
    assert code == 0, err
    clusters = pd.read_csv(out / "clusters.csv")
    assert len(clusters) == 4 and siblings(out) == []


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr


def test_out_naming_a_file_or_a_path_through_a_file_exits_2(tmp_path: Path) -> None:
    good = tmp_path / "p.csv"
    good.write_text("doc_id,year,lat,lon,country\na,2020,1,2,FR\n", encoding="utf-8")
    code, err = invoke("run", "--patents", str(good), "--out", str(good), "--quiet")
    assert code == 2 and "is an existing file" in one_error_line(err)
    code, err = invoke("run", "--patents", str(good), "--out", str(good / "sub"), "--quiet")
    assert code == 2 and "a part of its path is a file" in one_error_line(err)


def test_folder_with_other_files_or_inputs_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    good = out / "p.csv"
    good.write_text("doc_id,year,lat,lon,country\na,2020,1,2,FR\n", encoding="utf-8")
    code, err = invoke("run", "--patents", str(good), "--out", str(out), "--quiet")
    assert code == 2 and "is inside the output folder" in one_error_line(err)
    moved = tmp_path / "p.csv"
    good.rename(moved)
    code, err = invoke("run", "--patents", str(moved), "--out", str(out), "--quiet")
    assert code == 2 and "holds files innoclusters did not write (notes.txt)" in one_error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_folder_that_cannot_be_written_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "p.csv"
    good.write_text("doc_id,year,lat,lon,country\na,2020,1,2,FR\n", encoding="utf-8")
    real_open = os.open

    def refuse(path: str | os.PathLike[str], *args: object, **kwargs: object) -> int:
        if str(path).endswith(".innoclusters-lock"):  # the first file written beside --out
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    code, err = invoke("run", "--patents", str(good), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2
    assert "cannot write in folder" in one_error_line(err)


def test_full_disk_while_writing_exits_2_and_keeps_the_previous_set(
    tmp_path: Path, run_args: Callable[[Path], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import innoclusters.publish as publish

    out = tmp_path / "out"
    assert invoke(*run_args(out))[0] == 0
    before = snapshot(out)

    def full_disk(result: object, path: Path) -> Path:
        Path(path).write_text("<html>half", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(publish, "write_report", full_disk)
    code, err = invoke(*run_args(out))
    assert code == 2
    assert "no space left on the disk" in one_error_line(err)
    assert snapshot(out) == before and siblings(out) == []


def test_library_write_outputs_refuses_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is an existing file"):
        write_outputs(hand_result(), path)


def test_no_formula_cell_in_any_csv_or_the_workbook_and_same_bytes_twice(
    tmp_path: Path,
) -> None:
    import csv
    import zipfile

    from innoclusters.publish.tables import is_formula_like
    from tests.conftest import toy_world

    hyperlink = '=HYPERLINK("http://evil.example","click")'
    args: list[str] = []
    for metric, frame in toy_world().items():
        frame = frame.assign(org=hyperlink, field="@SUM(A1:A9)")
        bad = frame.iloc[:1].assign(doc_id="=1+1", lat=95.0)  # rejected: lat out of range
        path = tmp_path / f"{metric}.csv"
        pd.concat([frame, bad]).to_csv(path, index=False)
        args += [f"--{metric}", str(path)]
    config = tmp_path / "s.toml"
    config.write_text(CONFIG, encoding="utf-8")
    common = [*args, "--config", str(config), "--quiet"]
    assert invoke("run", *common, "--out", str(tmp_path / "a"))[0] == 0
    code, err = invoke(
        "run",
        *common,
        "--edition",
        "2024",
        "--previous",
        str(tmp_path / "a"),
        "--out",
        str(tmp_path / "b"),
    )
    assert code == 0, err
    out = tmp_path / "b"
    tables = sorted(out.glob("*.csv"))
    assert {"clusters.csv", "rejects.csv", "profiles.csv", "changes.csv"} <= {
        p.name for p in tables
    }
    quoted = 0
    for table in tables:
        with table.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(line for line in f if not line.startswith("#")):
                assert not any(is_formula_like(cell) for cell in row), (table.name, row)
                quoted += sum(cell in ("'" + hyperlink, "'@SUM(A1:A9)", "'=1+1") for cell in row)
    assert quoted >= 3
    rejects = pd.read_csv(out / "rejects.csv", comment="#")
    assert "'=1+1" in set(rejects["doc_id"])
    profiles = pd.read_csv(out / "profiles.csv", comment="#")
    assert "'" + hyperlink in set(profiles["value"])
    with zipfile.ZipFile(out / "clusters.xlsx") as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in book.read(name).decode("utf-8"), name
    # The same run again gives the same bytes, workbook included (timings: manifest only).
    code, err = invoke(
        "run",
        *common,
        "--edition",
        "2024",
        "--previous",
        str(tmp_path / "a"),
        "--out",
        str(tmp_path / "c"),
    )
    assert code == 0, err
    again = snapshot(tmp_path / "c")
    for name, digest in snapshot(out).items():
        if name not in ("manifest.json", "report.html"):
            assert again[name] == digest, name


def test_compare_folder_is_replaced_as_a_set_and_never_a_run_it_reads(
    tmp_path: Path, run_args: Callable[[Path], list[str]]
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert invoke(*run_args(a))[0] == 0
    assert invoke(*run_args(b))[0] == 0
    for _ in range(2):  # the second comparison replaces the first one's folder
        code, err = invoke("compare", str(a), str(b), "--out", str(c), "--quiet")
        assert code == 0, err
    listed = json.loads((c / "comparison.json").read_text(encoding="utf-8"))["outputs"]
    assert sorted(p.name for p in c.iterdir()) == listed and siblings(c) == []
    before = snapshot(b)
    code, err = invoke("compare", str(a), str(b), "--out", str(b), "--quiet")
    assert code == 2 and "is inside the output folder" in one_error_line(err)
    assert snapshot(b) == before
