"""Files in and out: input formats, SQL-safe paths and atomic writes.

One table of formats serves every reader (records, geocoding, sources) and writer
(``innoclusters geocode`` output). Output files are written to a temporary name beside the
target and renamed onto it, so a file appears complete or not at all; output folders are
built beside the target and swapped in (:func:`atomic_folder`), so a folder holds one
complete set. Both get the permissions the user's umask gives.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from innoclusters.errors import InputError, OutputError

__all__ = [
    "COMPRESSIONS",
    "FORMATS",
    "MANIFEST",
    "atomic_folder",
    "atomic_path",
    "atomic_write_text",
    "file_mode",
    "folder_lock",
    "format_of",
    "prepare_folder",
    "read_manifest",
    "scratch_folder",
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


#: The file of an output folder that records how the run was made.
MANIFEST = "manifest.json"


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of a run's output folder, as a dict.

    The one reader of manifests: comparisons, reruns with rank uncertainty and the report
    of a finished run all read it here, with the same errors.

    Raises
    ------
    InputError
        When the folder holds no manifest, or one that is not a JSON object.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputError(f"{path} not found; give the --out folder of an innoclusters run")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not readable JSON ({first}); run the job again") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: not a run manifest (a JSON object); run the job again")
    return manifest


#: Name prefix of a run's scratch folder (its database and spill files) in the system's
#: temporary folder.
SCRATCH_PREFIX = "innoclusters-run-"
_OWNER = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def scratch_folder() -> Path:
    """A new scratch folder for one run's database and spill files, removed at exit.

    A run killed by a signal (``kill``, the out-of-memory killer) cannot remove its own
    folder, and at world scale that folder holds tens of gigabytes of spill. So each
    folder records the process that made it, and making one first removes this user's
    folders whose process is gone (a folder whose process id is in use again is kept).
    """
    base = Path(tempfile.gettempdir())
    for old in base.glob(SCRATCH_PREFIX + "*"):
        with contextlib.suppress(OSError, ValueError):
            if old.stat().st_uid == os.getuid() and not _alive(int((old / _OWNER).read_text())):
                shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    atexit.register(shutil.rmtree, folder, True)
    (folder / _OWNER).write_text(str(os.getpid()), encoding="utf-8")
    return folder


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
        os.chmod(tmp, file_mode())  # mkstemp made it 0o600
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# --- Atomic output folders -------------------------------------------------------------
#
# A folder is replaced as a set: the new set is built in a hidden sibling folder
# (``.NAME.innoclusters-tmp-XXXX``), flushed to disk, then swapped in for ``NAME``. On Linux
# the swap is one ``renameat2(RENAME_EXCHANGE)``, so ``NAME`` always holds a complete set;
# elsewhere the old folder is renamed aside (``.NAME.innoclusters-old-XXXX``) and the new one
# renamed in, so a run killed between the two renames leaves no ``NAME`` but the old set
# aside, which the next run into ``NAME`` puts back. A lock file beside the folder
# (``.NAME.innoclusters-lock``, ``flock``) refuses a second run into the same folder.

_STAGING = ".innoclusters-tmp-"
_ASIDE = ".innoclusters-old-"
_LOCK = ".innoclusters-lock"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions that the user's umask gives a new file (``0o666`` less the umask)."""
    return 0o666 & ~_umask()


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}{kind}"


@contextlib.contextmanager
def folder_lock(path: str | Path) -> Iterator[None]:
    """Hold the lock of output folder ``path`` for the block (a lock file beside it).

    Raises
    ------
    OutputError
        When another process holds the lock, or the folder beside which the lock file
        goes cannot be written.
    """
    target = Path(path).absolute()
    lock = _sibling(target, _LOCK)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(
                f"cannot write in folder '{target.parent}' ({exc.strerror}); choose an output "
                "folder in a place you can write to"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"another innoclusters run is writing output folder '{target}' (lock file "
                f"'{lock.name}' beside it); wait for it to finish or choose another output "
                "folder"
            ) from None
        # The holder before us may have removed the lock file after we opened it: then we
        # locked a file nobody else sees, so try again on the current one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` (itself included) to disk."""
    for root, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(done == 0)


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` in place of ``target`` and remove the old ``target``."""
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)  # now the old set
    else:
        aside = Path(tempfile.mkdtemp(prefix=_sibling(target, _ASIDE).name, dir=target.parent))
        os.rename(target, aside)
        os.rename(staging, target)
        _fsync_dir(target.parent)
        shutil.rmtree(aside)
    _fsync_dir(target.parent)


def _clean_leftovers(target: Path) -> None:
    """Remove what a killed run left beside ``target``; put back an old set left aside."""
    parent = target.parent
    staging = sorted(parent.glob(glob.escape(_sibling(target, _STAGING).name) + "*"))
    aside = sorted(parent.glob(glob.escape(_sibling(target, _ASIDE).name) + "*"))
    for folder in staging:
        shutil.rmtree(folder, ignore_errors=True)
    if not target.exists() and aside:
        # Killed between the two renames of a swap: the old set is complete; restore it.
        os.rename(aside.pop(), target)
    for folder in aside:
        shutil.rmtree(folder, ignore_errors=True)


def prepare_folder(path: str | Path) -> Path:
    """Check that ``path`` can be an output folder and create its parents; its absolute path.

    Raises
    ------
    OutputError
        ``path`` is a file, a part of it is a file, or it cannot be created or written.
    """
    target = Path(path).absolute()
    if target.exists() and not target.is_dir():
        raise OutputError(
            f"output folder '{path}' is an existing file; give the path of a folder "
            "(it is created if missing)"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OutputError(
            f"cannot create output folder '{path}': a part of its path is a file; give the "
            "path of a folder"
        ) from exc
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder '{path}' ({exc.strerror}); choose a folder you "
            "can write to"
        ) from exc
    if target.exists() and not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write output folder '{path}' (permission denied); choose a folder you "
            "can write to or change its permissions"
        )
    return target


@contextlib.contextmanager
def atomic_folder(
    path: str | Path,
    *,
    check: Callable[[Path], None] | None = None,
    keep: Iterable[str] = (),
) -> Iterator[Path]:
    """Yield an empty folder beside ``path``; swap it in for ``path`` if the block succeeds.

    The folder ``path`` holds either its previous contents or the complete new set, never a
    mixture: the block writes into a hidden sibling folder, which is flushed to disk and
    swapped in when the block ends without error, and removed otherwise. The folder gets
    the permissions the user's umask gives; a second writer of ``path`` at the same time is
    refused.

    Parameters
    ----------
    path
        The folder to replace (created, with its parents, if missing).
    check
        Called with ``path`` once the lock is held and before anything is written, to
        refuse a folder that must not be replaced (it raises).
    keep
        Names of entries of the existing ``path`` put into the new folder first (as hard
        links, so no data is copied).

    Raises
    ------
    OutputError
        ``path`` is a file, cannot be written, or another process is writing it.
    """
    target = prepare_folder(path)
    with folder_lock(target):
        if check is not None:
            check(target)
        _clean_leftovers(target)
        staging = Path(tempfile.mkdtemp(prefix=_sibling(target, _STAGING).name, dir=target.parent))
        try:
            os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0o700
            for name in keep:
                source = target / name
                if source.is_dir():
                    shutil.copytree(source, staging / name, copy_function=os.link)
                elif source.is_file():
                    os.link(source, staging / name)
            yield staging
            _fsync_tree(staging)
            _swap_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
