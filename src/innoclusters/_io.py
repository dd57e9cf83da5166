"""Files in and out: input formats, SQL-safe paths and atomic writes.

One table of formats serves every reader (records, geocoding, sources) and writer
(``innoclusters geocode`` output). Output files are written to a temporary name beside the
target and renamed onto it, so a file appears complete or not at all.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from innoclusters.errors import InputError

__all__ = [
    "COMPRESSIONS",
    "FORMATS",
    "atomic_path",
    "atomic_write_text",
    "format_of",
    "sql_path",
]

#: File name endings and the table format they hold: ``csv``, ``tsv``, ``parquet`` or
#: ``jsonl`` (JSON Lines, one object per line).
FORMATS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

#: Compression endings read in place (by DuckDB) after the format ending: ``a.csv.gz``.
COMPRESSIONS: tuple[str, ...] = (".gz", ".zst")


def format_of(path: str | Path, *, role: str = "input", compressed: bool = True) -> str:
    """The format of ``path`` from its name (``csv``, ``tsv``, ``parquet`` or ``jsonl``).

    Parameters
    ----------
    path
        The file.
    role
        What the file is, for the error message ("input", "output", ...).
    compressed
        Whether a compression ending (:data:`COMPRESSIONS`) may follow the format ending.

    Raises
    ------
    InputError
        When the name ends in no known format.
    """
    p = Path(path)
    name = p.name.lower()
    if compressed:
        for comp in COMPRESSIONS:
            if name.endswith(comp):
                name = name[: -len(comp)]
    suffix = Path(name).suffix
    if suffix not in FORMATS:
        raise InputError(
            f"{p}: unknown file type '{suffix or p.name}' for the {role}; use .csv, .tsv, "
            ".parquet or .jsonl (JSON Lines)"
        )
    return FORMATS[suffix]


def sql_path(path: str | Path) -> str:
    """``path`` as the body of a single-quoted SQL string literal."""
    return str(path).replace("'", "''")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary file lives in the same folder, so the final :func:`os.replace` is atomic.
    On error the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
