"""Image import speed: `python -m runtime images import` against `tar -xf`.

Builds a rootfs-like tarball from this machine's /usr (at least 200 MB and
20,000 files), then times both extractions of that same tarball into empty
directories on the same filesystem (--target, e.g. a tmpfs to measure CPU
alone), alternating which goes first, and prints the medians and the ratio
(import / tar; the goal is <= 1.0). Run as root.

    .venv/bin/python bench/import.py [--runs N] [--keep DIR] [--target DIR]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = ["usr/include", "usr/share/doc", "usr/lib/python3.11", "usr/share/zoneinfo", "usr/share/perl",
              "usr/sbin", "usr/share/i18n", "usr/share/man", "usr/bin", "usr/share/locale"]
MIN_BYTES, MIN_FILES = 200 << 20, 20_000


def _pick_dirs() -> tuple[list[str], int, int]:
    chosen, size, files = [], 0, 0
    for rel in CANDIDATES:
        if size >= MIN_BYTES and files >= MIN_FILES:
            break
        if not os.path.isdir("/" + rel):
            continue
        chosen.append(rel)
        for base, dirs, names in os.walk("/" + rel):
            files += len(dirs) + len(names)
            for n in names:
                try:
                    size += os.lstat(os.path.join(base, n)).st_size
                except OSError:
                    pass
    return chosen, size, files


def build_tarball(dest: Path) -> tuple[int, int]:
    dirs, size, files = _pick_dirs()
    if size < MIN_BYTES or files < MIN_FILES:
        sys.exit(f"bench: /usr is too small for a {MIN_BYTES >> 20} MB / {MIN_FILES} file tarball")
    subprocess.run(["tar", "-cf", str(dest), "-C", "/", *dirs], check=True)
    with tarfile.open(dest) as tar:
        count = sum(1 for _ in tar)
    return dest.stat().st_size, count


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def timed(argv: list[str], tarball: Path) -> float:
    # Both sides read the tarball from the page cache, and neither pays for
    # writing back what an earlier run left dirty.
    _warm(tarball)
    os.sync()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="reuse/keep the tarball in this directory")
    parser.add_argument("--target", default="/var/tmp", help="extract here (both tar and import)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="terrarium-bench-", dir=args.target))
    try:
        tar_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tarball-", dir=work))
        tarball = tar_dir / "usr-rootfs.tar"
        if not tarball.exists():
            build_tarball(tarball)
        with tarfile.open(tarball) as tar:
            entries = sum(1 for _ in tar)
        fs = subprocess.run(["stat", "-f", "-c", "%T", str(work)], capture_output=True, text=True).stdout.strip()
        print(f"tarball: {tarball.stat().st_size / 1e6:.0f} MB, {entries} entries; target {work} ({fs})")
        print(f"loadavg before: {_loadavg()}")
        python = str(REPO / ".venv" / "bin" / "python")
        commands = {
            "tar -xf": lambda out: ["tar", "-xf", str(tarball), "-C", str(out)],
            "images import": lambda out: [python, "-m", "runtime", "--root", str(out), "images", "import",
                                          str(tarball), "--name", "bench"],
        }
        times = {name: [] for name in commands}
        for run in range(args.runs + 1):
            order = list(commands) if run % 2 else list(commands)[::-1]
            took = {}
            for name in order:
                out = work / "out"
                out.mkdir()
                took[name] = timed(commands[name](out), tarball)
                shutil.rmtree(out)
                if run:
                    times[name].append(took[name])
            shown = ", ".join(f"{name} {took[name]:.2f}s" for name in order)
            print(f"run {run}{' (warm-up)' if not run else ''}: {shown}", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, value in med.items():
            print(f"median {name:14s} {value:.2f}s")
        print(f"ratio import/tar: {med['images import'] / med['tar -xf']:.2f}")
        print(f"loadavg after: {_loadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
