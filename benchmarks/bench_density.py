"""Benchmark of the density kernel :func:`innoclusters.weighted_dbscan`.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_density [--json PATH]

What it measures, in one run, each step in its own child process:

1. **compile**: Numba compile time of the kernel, with an empty Numba cache, on a tiny input.
2. **baseline**: a process that imports, loads the large data set (generated beforehand by
   another child and saved to a temporary ``.npz``) and warms the kernel up (from the cache
   filled by step 1) but does not run it: its peak RSS is the baseline.
3. **large**: the same, then the kernel on ``--n-large`` locations (best wall time of
   ``--repeat`` runs); its peak RSS minus the baseline's is the kernel's own peak memory.
4. **compare**: on ``--n-small`` locations from the same generator, the kernel (best of
   ``--repeat``) and scikit-learn's ``DBSCAN(metric="haversine")`` (best of 2) side by side;
   the core masks must be equal and the partitions of core locations identical (asserted).

The machine may be shared: best-of timings damp, but do not remove, other processes' load.

Peak RSS is read per child with ``os.wait4``. ``min_weight`` is ``--min-share`` of the data's
total weight (rounded to an integer, as scikit-learn's ``min_samples`` must be). The exit
status is 1 when a target is missed: large run under 10 s and 2 GiB peak RSS; at least 20x
faster than scikit-learn with identical core labels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._gen import city_locations

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 10.0
TARGET_PEAK_BYTES = 2 * 1024**3
TARGET_SPEEDUP = 20.0


def _min_weight(weight: np.ndarray, share: float) -> int:
    return max(1, round(share * float(weight.sum())))


def _warm_up() -> float:
    """Run the kernel on a tiny input (compiling or loading it); return the seconds taken."""
    from innoclusters import weighted_dbscan

    t = time.perf_counter()
    weighted_dbscan([0.0, 0.01], [0.0, 0.0], [1.0, 1.0], eps_km=13.0, min_weight=1.0)
    return time.perf_counter() - t


def _child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """The work of one child process; returns what it measured."""
    import numba

    out: dict[str, Any] = {"mode": mode, "threads": numba.get_num_threads()}
    if mode == "compile":
        out["warm_up_seconds"] = _warm_up()
        return out
    if mode == "generate":
        for n in (args.n_large, args.n_small):
            t = time.perf_counter()
            lat, lon, weight = city_locations(n, seed=args.seed)
            out[f"generate_seconds_{n}"] = time.perf_counter() - t
            np.savez(args.data_dir / f"locations_{n}.npz", lat=lat, lon=lon, weight=weight)
        return out
    n = args.n_large if mode in ("baseline", "large") else args.n_small
    with np.load(args.data_dir / f"locations_{n}.npz") as data:
        lat, lon, weight = data["lat"], data["lon"], data["weight"]
    out["warm_up_seconds"] = _warm_up()
    min_weight = _min_weight(weight, args.min_share)
    out.update(locations=n, min_weight=min_weight, total_weight=float(weight.sum()))
    if mode == "baseline":
        return out

    from innoclusters import weighted_dbscan

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        labels, core = weighted_dbscan(lat, lon, weight, eps_km=args.eps_km, min_weight=min_weight)
        times.append(time.perf_counter() - t)
    out.update(
        seconds=min(times),
        all_seconds=times,
        clusters=int(labels.max()) + 1,
        core_locations=int(core.sum()),
        noise_locations=int((labels < 0).sum()),
    )
    if mode == "compare":
        from sklearn.cluster import DBSCAN

        model = DBSCAN(eps=args.eps_km / 6371.0088, min_samples=min_weight, metric="haversine")
        x = np.radians(np.c_[lat, lon])
        sk_times = []
        for _ in range(min(2, args.repeat)):
            t = time.perf_counter()
            model.fit(x, sample_weight=weight)
            sk_times.append(time.perf_counter() - t)
        out["sklearn_seconds"] = min(sk_times)
        out["sklearn_all_seconds"] = sk_times
        core_sk = np.zeros(n, dtype=bool)
        core_sk[model.core_sample_indices_] = True
        pairs = set(zip(labels[core].tolist(), model.labels_[core].tolist(), strict=True))
        out["identical_core_labels"] = bool(
            np.array_equal(core, core_sk)
            and len(pairs) == len(set(labels[core].tolist())) == len(set(model.labels_[core]))
        )
        assert out["identical_core_labels"], "core labels differ from scikit-learn's"
    return out


def _run_child(mode: str, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one child; return its report with its peak RSS (bytes) and wall time."""
    cmd = [sys.executable, "-m", "benchmarks.bench_density", "--child", mode, *argv]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {mode!r} failed with status {proc.returncode}")
    report: dict[str, Any] = json.loads(stdout)
    report["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    report["process_seconds"] = time.perf_counter() - t
    return report


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 1024**2:,.0f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, optionally write JSON; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-large", type=int, default=1_000_000)
    parser.add_argument("--n-small", type=int, default=100_000)
    parser.add_argument("--eps-km", type=float, default=13.0)
    parser.add_argument("--min-share", type=float, default=0.0005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(_child(args.child, args)))
        return 0

    passthrough = [
        f"--n-large={args.n_large}",
        f"--n-small={args.n_small}",
        f"--eps-km={args.eps_km}",
        f"--min-share={args.min_share}",
        f"--seed={args.seed}",
        f"--repeat={args.repeat}",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-density-") as tmp:
        cache = Path(tmp, "numba-cache")
        data_dir = Path(tmp, "data")
        data_dir.mkdir()
        passthrough.append(f"--data-dir={data_dir}")
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
        generated = _run_child("generate", passthrough, env)
        compiled = _run_child("compile", passthrough, env)
        baseline = _run_child("baseline", passthrough, env)
        large = _run_child("large", passthrough, env)
        compare = _run_child("compare", passthrough, env)

    kernel_bytes = large["peak_rss_bytes"] - baseline["peak_rss_bytes"]
    speedup = compare["sklearn_seconds"] / compare["seconds"]
    checks = {
        "large_under_10_s": large["seconds"] < TARGET_SECONDS,
        "large_under_2_GiB": large["peak_rss_bytes"] < TARGET_PEAK_BYTES,
        "20x_faster_than_sklearn": speedup >= TARGET_SPEEDUP,
        "identical_core_labels": compare["identical_core_labels"],
    }
    rows = [
        ("weighted_dbscan", large["locations"], large["seconds"], large["peak_rss_bytes"]),
        ("  baseline: import+load data", large["locations"], None, baseline["peak_rss_bytes"]),
        ("weighted_dbscan", compare["locations"], compare["seconds"], None),
        ("sklearn DBSCAN haversine", compare["locations"], compare["sklearn_seconds"], None),
    ]
    print(
        f"eps_km={args.eps_km}, min_weight={args.min_share} x total weight "
        f"({large['min_weight']} and {compare['min_weight']}), "
        f"{large['threads']} Numba threads, best of {args.repeat}"
    )
    print(f"{'run':<30}{'locations':>12}{'seconds':>10}{'peak RSS MiB':>14}")
    for name, n, sec, rss in rows:
        s = f"{sec:.3f}" if sec is not None else ""
        r = _mib(rss) if rss is not None else ""
        print(f"{name:<30}{n:>12,}{s:>10}{r:>14}")
    print(f"kernel peak memory (large - baseline): {_mib(kernel_bytes)} MiB")
    print(
        f"speed-up vs scikit-learn: {speedup:.1f}x; identical core labels: "
        f"{compare['identical_core_labels']}"
    )
    print(
        f"Numba compile time (empty cache): {compiled['warm_up_seconds']:.1f} s; "
        f"load from cache: {large['warm_up_seconds']:.2f} s"
    )
    print(
        f"large run: {large['clusters']} clusters, {large['core_locations']:,} core and "
        f"{large['noise_locations']:,} noise locations"
    )
    print("targets: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in checks.items()))
    if args.json is not None:
        figures = {
            "settings": {
                k: v for k, v in vars(args).items() if k not in ("json", "child", "data_dir")
            },
            "generate": generated,
            "compile": compiled,
            "baseline": baseline,
            "large": large,
            "compare": compare,
            "kernel_peak_bytes": kernel_bytes,
            "speedup_vs_sklearn": speedup,
            "targets": checks,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
