"""What bounded reading costs: ``toolkit.read_npz`` against ``np.load`` on the same files.

Run from the checkout::

    python benchmarks/npz_read.py                   # 200 MB of float64, best of 5
    python benchmarks/npz_read.py --megabytes 50 --repeats 3

Two files of one float64 array ``x`` (and a small ``t``) are written to a temporary folder,
one stored (``np.savez``) and one deflated (``np.savez_compressed``). Each is read whole
by ``np.load`` (every array) and by ``toolkit.read_npz``, alternating, so that a change in
the machine's load falls on both; the best wall time of the repeats is compared (the
first round is a warm-up, not counted). It prints the ratio read_npz / np.load per file,
and the load average.

Timings on a shared machine are noisy; this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from toolkit import read_npz


def _numpy(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as file:
        return {name: file[name] for name in file.files}


def _seconds(read: Callable[[Path], dict[str, np.ndarray]], path: Path) -> float:
    start = time.perf_counter()
    read(path)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = args.megabytes * 10**6 // (8 * 100)
    x = np.random.default_rng(0).standard_normal((rows, 100))
    t = np.arange(rows) % 10
    with tempfile.TemporaryDirectory() as folder:
        files = {"stored": Path(folder) / "stored.npz", "deflated": Path(folder) / "deflated.npz"}
        np.savez(files["stored"], x=x, t=t)
        np.savez_compressed(files["deflated"], x=x, t=t)
        for label, path in files.items():
            times: dict[str, list[float]] = {"np.load": [], "read_npz": []}
            for round_ in range(args.repeats + 1):
                for name, read in (("np.load", _numpy), ("read_npz", read_npz)):
                    seconds = _seconds(read, path)
                    if round_:
                        times[name].append(seconds)
            best = {name: min(values) for name, values in times.items()}
            print(
                f"{label:8} {path.stat().st_size / 1e6:7.1f} MB on disk: "
                f"np.load {best['np.load']:.3f} s, read_npz {best['read_npz']:.3f} s, "
                f"ratio {best['read_npz'] / best['np.load']:.2f}"
            )
    print("load average:", " ".join(f"{value:.2f}" for value in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
