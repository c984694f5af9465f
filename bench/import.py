"""Image import speed: `python -m runtime images import` against `tar -xf`.

Builds a rootfs-like tarball from this machine's /usr (at least 200 MB and
20,000 files), then alternates the two extractions into empty directories
on the same filesystem, several runs each, and prints the medians and the
ratio (import / tar; the goal is <= 1.0). Run as root.

    .venv/bin/python bench/import.py [--runs N] [--keep DIR]
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


def timed(argv: list[str]) -> float:
    # Write back what earlier runs left dirty, so no run pays for another's I/O.
    os.sync()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="reuse/keep the tarball in this directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="terrarium-bench-", dir="/var/tmp"))
    try:
        tar_dir = Path(args.keep) if args.keep else work
        tarball = tar_dir / "usr-rootfs.tar"
        if not tarball.exists():
            build_tarball(tarball)
        with tarfile.open(tarball) as tar:
            entries = sum(1 for _ in tar)
        print(f"tarball: {tarball.stat().st_size / 1e6:.0f} MB, {entries} entries")
        python = str(REPO / ".venv" / "bin" / "python")
        times = {"tar -xf": [], "images import": []}
        for run in range(args.runs + 1):
            target = work / "tar-out"
            target.mkdir()
            t_tar = timed(["tar", "-xf", str(tarball), "-C", str(target)])
            shutil.rmtree(target)
            root = work / "store"
            t_imp = timed([python, "-m", "runtime", "--root", str(root), "images", "import", str(tarball),
                           "--name", "bench"])
            shutil.rmtree(root)
            if run:
                times["tar -xf"].append(t_tar)
                times["images import"].append(t_imp)
            print(f"run {run}{' (warm-up)' if not run else ''}: tar {t_tar:.2f}s, import {t_imp:.2f}s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, value in med.items():
            print(f"median {name:14s} {value:.2f}s")
        print(f"ratio import/tar: {med['images import'] / med['tar -xf']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
