"""What every source adapter gives the records stage, and the helpers adapters share.

An adapter turns upstream files, exactly as they are downloaded, into one SQL query per
row-defining file (:class:`Prepared`). The query reads that file's rows as ``@STAGED``
(stored once by records, in file order, with ``_row``, the row's line; header = line 1),
the other files in place with DuckDB and, when the adapter has a place table, its places
validated once each as ``@PLACES`` (:attr:`Prepared.places`), and returns the records
columns (``doc_id``, ``year``, ``lat``, ``lon``, ``country``, ``city``, ``region``,
``org``, ``field``, ``weight`` as the adapter has them), ``_share`` (the row's relative
share of its document, when not equal), ``_problem`` (the adapter's own reject reason),
``_filter`` (the name of the filter that leaves the row out, ``NULL`` for rows to use) and
``_row``.
:mod:`innoclusters.records` validates, counts and rejects.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import dataclasses
import difflib
import os
import queue
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from innoclusters._io import sql_path
from innoclusters.errors import InputError, SettingsError

try:
    import fcntl
except ImportError:  # Windows: no named pipes either (streamed copies a member out)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Detection",
    "Prepared",
    "SourceSpec",
    "check_options",
    "deferred",
    "feeding",
    "find_suffixed",
    "find_table",
    "header_of",
    "planning_only",
    "readable",
    "sql_file",
    "sql_text",
    "streamed",
    "text_list",
    "unzip_progress",
    "year_text",
]

#: Called as ``report(zip_path, bytes_done, bytes_total)`` while :func:`readable` copies a
#: zip member out; set for a block of code with :func:`unzip_progress`.
_UNZIP_REPORT: contextvars.ContextVar[Callable[[Path, int, int], None] | None] = (
    contextvars.ContextVar("unzip_report", default=None)
)


#: Set while an adapter only plans (:func:`planning_only`): zips are not unzipped.
_PLANNING: contextvars.ContextVar[bool] = contextvars.ContextVar("planning", default=False)


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """Files of one metric and the adapter that reads them.

    Parameters
    ----------
    adapter
        Adapter name (``patentsview``, ``regpat``, ``rasenfosse``, ``openalex``,
        ``crunchbase``, ``table``); empty to detect it from the files.
    paths
        Files or folders, as the user gave them.
    options
        Adapter settings (from ``[sources.<metric>]`` of the settings TOML).
    """

    adapter: str
    paths: tuple[Path, ...]
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """One row-defining upstream file and the SQL that reads it as records."""

    adapter: str
    path: Path
    files: tuple[Path, ...]
    sql: str
    columns: Mapping[str, str]
    filters: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: A query reading the row-defining file; records stores its rows once, in file order,
    #: and ``sql`` reads them as ``@STAGED`` with ``_row``, the row's line (numbering a
    #: table's rows in order is free, numbering a scan's is not).
    staged: str = ""
    #: Line of the first data row (2 below a header, 1 in JSON Lines).
    first_line: int = 2
    #: A query over the adapter's place table, one row per place: ``_place`` (the key the
    #: rows name) and the place's ``lat``, ``lon``, ``country``, ``city``, ``region`` as
    #: upstream has them. records validates it once per place into a table that ``sql``
    #: joins as ``@PLACES`` (``_place``, ``lat`` and ``lon`` as numbers, ``country`` as
    #: alpha-2, ``city``, ``region``, ``_place_reason``, ``_noplace``, ``_pid``), so that a
    #: place's text is parsed once, not once per row that names it. ``sql`` passes ``_pid``
    #: (the place's id) on with the place's columns: records stores each row with the id
    #: only and joins the place's columns back where it needs them.
    places: str = ""
    #: ``sql`` for tables in which a key the adapter joins on repeats (each such table
    #: grouped by its key first, which costs a hash aggregate per table). ``sql`` may take
    #: upstream keys to be unique, as upstream documents them; records checks that it
    #: gave one row per row of the row-defining file and otherwise runs this instead.
    fallback: str = ""
    #: Files written while ``staged`` runs (:func:`feeding`), each with the zip whose data
    #: member goes into it: named pipes that ``staged`` reads (:func:`streamed`: the
    #: row-defining file is read once, so it is unzipped as it is read instead of copied out
    #: first) and files that the queries after it read (:func:`deferred`). Only ``places``
    #: runs before ``staged``: it must not read a file of ``feeds``.
    feeds: tuple[tuple[Path, Path], ...] = ()
    #: Optional, for adapters whose rows take every checked column either from a document
    #: (one per key of the document tables) or from a place of ``places``: records then
    #: validates each document once and writes the records in one pass, without storing
    #: the validated rows first. ``documents`` reads the document tables, one row per key:
    #: ``_key``, ``doc_id``, ``year`` (as upstream has them), ``_filter`` and ``_ok``
    #: (false when ``sql`` gives the document's rows a problem of its own);
    #: ``documents_grouped`` is its variant for tables whose keys repeat (as ``fallback``).
    #: ``keyed`` reads ``@STAGED`` and ``@PLACES`` like ``sql`` and gives per row ``_key``,
    #: ``_row``, the columns of ``@PLACES`` but ``_place``, and ``_ok`` (false when ``sql``
    #: gives the row a problem that is not its document's). Rows are the same as ``sql``'s
    #: and the three must agree: a row is accepted exactly when ``sql`` accepts it.
    documents: str = ""
    documents_grouped: str = ""
    keyed: str = ""
    #: ``sql`` with its documents read from ``@DOCUMENTS`` (one row per key: ``_key``,
    #: ``_year`` and ``_listed``, the ``year`` and ``_ok`` of ``documents`` as they are,
    #: ``_filter``): records words the reasons of the rows that fail with it, without
    #: reading the document tables again.
    worded: str = ""


@dataclasses.dataclass(frozen=True)
class Detection:
    """How well some files fit an adapter: the columns (or files) it lacks."""

    adapter: str
    missing: tuple[str, ...]
    matched: int

    @property
    def fits(self) -> bool:
        """Whether nothing the adapter needs is missing."""
        return not self.missing


def check_options(adapter: str, options: Mapping[str, Any], known: Mapping[str, Any]) -> None:
    """Refuse settings that ``adapter`` does not have (``known`` maps its own to defaults).

    Raises
    ------
    SettingsError
        Naming the unknown settings and the known ones.
    """
    unknown = sorted(set(options) - set(known))
    if unknown:
        has = f"known: {', '.join(known)}" if known else "it has none"
        raise SettingsError(f"unknown {adapter} setting(s) {', '.join(unknown)}; {has}")


def text_list(adapter: str, options: Mapping[str, Any], key: str, default: Any) -> list[str]:
    """The list-of-text setting ``key`` of ``adapter`` (``default`` when not set).

    Raises
    ------
    SettingsError
        When it is not a list of text.
    """
    value = options.get(key, default)
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise SettingsError(f"{adapter} setting '{key}' must be a list, got {value!r}")
    return value


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def year_text(expr: str) -> str:
    """SQL for the year of a date as text (``'2021'``), or the text itself when not a date.

    Adapters apply it once per document (in their document table) rather than leaving
    records to parse the same date on every row of the document; text that is not an
    ISO date is passed on as it is, for records to parse or reject with its value.
    """
    return f"coalesce(CAST(year(TRY_CAST({expr} AS DATE)) AS VARCHAR), {expr})"


def sql_file(path: Path) -> str:
    """A path as a quoted SQL string literal (:func:`innoclusters._io.sql_path` quoted)."""
    return f"'{sql_path(path)}'"


def _stem(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".zip", ".gz", ".tsv", ".csv", ".txt", ".jsonl", ".json", ".parquet"):
        name = name.removesuffix(suffix)
    for suffix in (".tsv", ".csv", ".txt"):
        name = name.removesuffix(suffix)
    return name


def find_table(paths: Sequence[Path], stem: str) -> Path | None:
    """The file among ``paths`` (files or folders, searched one level deep) named ``stem``.

    ``g_patent`` matches ``g_patent.tsv``, ``g_patent.tsv.zip`` and ``g_patent.tsv.gz``.
    """
    for p in paths:
        candidates = sorted(p.iterdir()) if p.is_dir() else [p]
        for c in candidates:
            if c.is_file() and _stem(c) == stem.lower():
                return c
    return None


def find_suffixed(paths: Sequence[Path], suffix: str) -> Path | None:
    """The newest file among ``paths`` whose name stem ends with ``suffix`` (case-insensitive).

    REGPAT names its files by edition, ``202401_PCT_Inv_reg.txt``: ``suffix`` is
    ``_pct_inv_reg`` and the latest edition present is taken.
    """
    found = []
    for p in paths:
        candidates = sorted(p.iterdir()) if p.is_dir() else [p]
        found += [c for c in candidates if c.is_file() and _stem(c).endswith(suffix.lower())]
    return sorted(found)[-1] if found else None


@contextlib.contextmanager
def unzip_progress(report: Callable[[Path, int, int], None]) -> Iterator[None]:
    """Within the block, :func:`readable` calls ``report(zip_path, bytes_done, bytes_total)``
    after each block it copies out of a zip (the records stage shows it as progress)."""
    token = _UNZIP_REPORT.set(report)
    try:
        yield
    finally:
        _UNZIP_REPORT.reset(token)


def _bad_zip(path: Path, exc: BaseException) -> InputError:
    """The error for a zip that cannot be opened or inflated."""
    return InputError(f"{path}: not a readable zip file ({exc}); download it again")


def _data_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The one data member of a zip (macOS resource forks aside)."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    members = [m for m in members if not m.filename.startswith("__MACOSX")]
    if len(members) != 1:
        names = ", ".join(m.filename for m in members) or "none"
        raise InputError(
            f"{path}: a zip with one data file is expected, found {names}; "
            "unzip it and pass the file itself"
        )
    return members[0]


#: Names in a work folder are numbered in order of creation; threads take them in turn.
_NAMING = threading.Lock()


def _new_name(workdir: Path, name: str, make: Callable[[Path], None]) -> Path:
    """A new file of ``workdir`` for ``name`` (``<n>_<name>``), made by ``make``."""
    with _NAMING:
        target = workdir / f"{len(list(workdir.iterdir()))}_{Path(name).name}"
        make(target)
    return target


def _copy_out(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path, write: Callable[[bytes], object]
) -> None:
    """Pass a zip member to ``write`` in blocks, reporting each (:func:`unzip_progress`)."""
    report = _UNZIP_REPORT.get()
    total, done = member.file_size, 0
    with archive.open(member) as src:
        for block in iter(lambda: src.read(1 << 22), b""):
            write(block)
            done += len(block)
            if report is not None:
                report(path, done, total)


@contextlib.contextmanager
def planning_only() -> Iterator[None]:
    """Within the block, adapters only plan: :func:`readable` and :func:`streamed` give a
    zip's own path (nothing is unzipped, no pipe is made), for an engine that reads the
    upstream files itself (``Prepared.files``) and runs none of the planned SQL."""
    token = _PLANNING.set(True)
    try:
        yield
    finally:
        _PLANNING.reset(token)


def readable(path: Path, workdir: Path) -> Path:
    """A path DuckDB can read: a ``.zip`` has its one data member copied out to ``workdir``.

    DuckDB reads ``.gz`` itself; for a ``.zip`` (the way PatentsView and others publish
    their tables) the member is streamed out with :mod:`zipfile` once, in blocks, to a
    temporary file that lives as long as the run's reading, so it can be scanned several
    times at full speed. While :func:`planning_only`, the zip's own path.
    """
    if _PLANNING.get():
        return path
    return _unzipped(path, workdir)


def _unzipped(path: Path, workdir: Path) -> Path:
    """:func:`readable`, whether or not planning only."""
    if not path.name.lower().endswith(".zip"):
        return path
    try:
        with zipfile.ZipFile(path) as archive:
            member = _data_member(archive, path)
            target = _new_name(workdir, member.filename, lambda t: t.touch(exist_ok=False))
            with target.open("wb") as dst:
                _copy_out(archive, member, path, dst.write)
    except zipfile.BadZipFile as exc:
        raise _bad_zip(path, exc) from None
    return target


def deferred(path: Path, workdir: Path) -> tuple[Path, tuple[Path, Path] | None]:
    """A path for queries that run after an adapter's ``staged`` (:attr:`Prepared.staged`).

    A ``.zip``'s data member is copied out (as :func:`readable` does) while ``staged`` runs
    (:func:`feeding`, :attr:`Prepared.feeds`), not before: the row-defining file is read
    through a pipe on one thread, so the machine has room for it then. Returns the path to
    read and the feed (that file, not yet written, and the zip), or ``path`` itself and
    ``None`` for other files and while :func:`planning_only`.
    """
    if not path.name.lower().endswith(".zip") or _PLANNING.get():
        return path, None
    try:
        with zipfile.ZipFile(path) as archive:
            member = _data_member(archive, path)
    except zipfile.BadZipFile as exc:
        raise _bad_zip(path, exc) from None
    target = _new_name(workdir, member.filename, lambda t: t.touch(exist_ok=False))
    return target, (target, path)


def streamed(path: Path, workdir: Path) -> tuple[Path, tuple[Path, Path] | None]:
    """A path for a query that reads ``path`` once, in order (an adapter's ``staged``).

    A ``.zip``'s data member is not copied out (:func:`readable`) but streamed through a
    named pipe while the query runs (:func:`feeding`, :attr:`Prepared.feeds`): unzipping
    then overlaps parsing, and the inflated file is never written to disk. Returns the path
    to read and the feed (the pipe and the zip), or ``path`` itself and ``None`` for other
    files. Where named pipes do not exist (Windows, some file systems), the member is copied
    out instead. While :func:`planning_only`, ``path`` itself and ``None``.
    """
    if not path.name.lower().endswith(".zip") or _PLANNING.get():
        return path, None
    if not hasattr(os, "mkfifo"):
        return readable(path, workdir), None
    try:
        with zipfile.ZipFile(path) as archive:
            member = _data_member(archive, path)
    except zipfile.BadZipFile as exc:
        raise _bad_zip(path, exc) from None
    try:
        pipe = _new_name(workdir, member.filename, os.mkfifo)
    except OSError:  # a file system without named pipes: copy the member out
        return readable(path, workdir), None
    return pipe, (pipe, path)


#: Inflated blocks (of :func:`_copy_out`'s size, 4 MiB) a feeder keeps ahead of its reader.
_AHEAD_BLOCKS = 16

#: Bytes a named pipe holds (Linux's default is 64 KiB; 1 MiB is its usual ceiling for users).
_PIPE_BYTES = 1 << 20


class _Stopped(Exception):
    """The reader of a pipe went away: its feeder stops inflating."""


def _inflate_into(
    path: Path, blocks: queue.Queue[bytes | None], stop: threading.Event
) -> BaseException | None:
    """Put the blocks of a zip's data member into ``blocks``, then ``None``, unless ``stop``
    is set (the reader went away); return the zip's error, if any."""

    def put(block: bytes | None) -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                blocks.put(block, timeout=0.1)
                return
        raise _Stopped

    try:
        with zipfile.ZipFile(path) as archive:
            _copy_out(archive, _data_member(archive, path), path, put)
        return None
    except (zipfile.BadZipFile, zlib.error, InputError, EOFError) as exc:
        return exc
    except _Stopped:
        return None
    finally:
        with contextlib.suppress(_Stopped):
            put(None)


@contextlib.contextmanager
def feeding(feeds: Sequence[tuple[Path, Path]]) -> Iterator[None]:
    """Within the block, write each zip's data member into its named pipe (:func:`streamed`)
    or its file (:func:`deferred`), all at once; at its end, wait for the files.

    Per pipe, one thread inflates the member (reporting to :func:`unzip_progress`) up to
    :data:`_AHEAD_BLOCKS` blocks ahead of another that writes them into the pipe: DuckDB
    reads a pipe on one thread and parses what it read before it reads more, so inflating
    goes on while it parses (written straight into the pipe, the two took turns). The
    block runs the one statement that reads the pipes, each once, as DuckDB reads
    ``/dev/stdin`` (``connection.execute``; a relation that binds and runs apart would
    open a pipe twice). A reader that stops early (a query that fails) ends its feeder;
    one that never opened its pipe is stood in for.

    Raises
    ------
    InputError
        When a zip cannot be inflated (a query then saw a shortened file).
    """
    failed: list[tuple[Path, BaseException]] = []
    # Any other error of a feeder (a full disk, a zip that cannot be opened), raised as it is.
    others: list[BaseException] = []

    def copy(target: Path, path: Path) -> None:
        try:
            with target.open("wb") as dst, zipfile.ZipFile(path) as archive:
                _copy_out(archive, _data_member(archive, path), path, dst.write)
        except (zipfile.BadZipFile, zlib.error, InputError, EOFError) as exc:
            failed.append((path, exc))
        except Exception as exc:  # raised when the block ends
            others.append(exc)

    def feed(pipe: Path, path: Path) -> None:
        if not pipe.is_fifo():
            copy(pipe, path)
            return
        blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=_AHEAD_BLOCKS)
        stop = threading.Event()
        inflating = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        try:
            # The pipe is opened first (this waits for the reader), so that the reader gets
            # to the end of it even when the zip cannot be read.
            with pipe.open("wb") as dst:
                if fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
                    with contextlib.suppress(OSError):
                        fcntl.fcntl(dst.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
                error = inflating.submit(
                    contextvars.copy_context().run, _inflate_into, path, blocks, stop
                )
                while (block := blocks.get()) is not None:
                    dst.write(block)
                if (exc := error.result()) is not None:
                    failed.append((path, exc))
        except BrokenPipeError:
            pass  # the query stopped reading; it reports its own error
        except Exception as exc:  # raised when the block ends
            others.append(exc)
        finally:
            stop.set()
            inflating.shutdown(wait=True)

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(feed, *f), daemon=True)
        for f in feeds
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for (pipe, _path), thread in zip(feeds, threads, strict=True):
            thread.join(0.05 if pipe.is_fifo() else None)
            while thread.is_alive():
                # The reader is gone or never came: open and close the reading end, so the
                # feeder's open returns and its next write fails with a broken pipe.
                with contextlib.suppress(OSError):
                    os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
                thread.join(0.05)
        if failed:
            # Before the query's own error, which a shortened file would cause.
            path, exc = failed[0]
            raise _bad_zip(path, exc)
        if others:
            raise others[0]


def header_of(path: Path, workdir: Path) -> list[str]:
    """Column names of a CSV/TSV/JSON Lines/Parquet file (zipped or gzipped)."""
    name = path.name.lower().removesuffix(".zip").removesuffix(".gz")
    con = duckdb.connect()
    try:
        if name.endswith(".parquet"):
            rel = con.sql(f"SELECT * FROM read_parquet({sql_file(path)}) LIMIT 0")
        elif name.endswith((".jsonl", ".ndjson", ".json")) or _looks_like_json_lines(path):
            src = _unzipped(path, workdir)
            rel = con.sql(
                f"SELECT * FROM read_json({sql_file(src)}, format='auto', sample_size=100) LIMIT 0"
            )
        else:
            src = _head(path, workdir) if path.name.lower().endswith(".zip") else path
            rel = con.sql(
                f"SELECT * FROM read_csv({sql_file(src)}, all_varchar=true, header=true, "
                "sample_size=100) LIMIT 0"
            )
        return list(rel.columns)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot read its header ({first})") from None
    finally:
        con.close()


def _head(path: Path, workdir: Path) -> Path:
    """The first whole lines (up to 1 MiB) of a zip's data member, in a file of ``workdir``:
    enough to read a header without unzipping the whole table."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _data_member(archive, path)
            with archive.open(member) as src:
                block = src.read(1 << 20)
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise _bad_zip(path, exc) from None
    if len(block) == 1 << 20 and b"\n" in block:
        block = block[: block.rindex(b"\n") + 1]

    def write(target: Path) -> None:
        target.write_bytes(block)

    return _new_name(workdir, member.filename, write)


def _looks_like_json_lines(path: Path) -> bool:
    return "updated_date=" in str(path) or path.name.lower().startswith("part_")


def closest(name: str, choices: Sequence[str]) -> str | None:
    """The choice closest to ``name`` (for 'did you mean' messages)."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None
