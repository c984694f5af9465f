"""Image import speed: `python -m runtime images import` against `tar -xf`.

Builds two tarballs from this machine's files: "usr", a rootfs-like slice
of /usr (at least 200 MB and 20,000 files, binaries and libraries among
them), and "small", a small-file tree (headers, docs, Python's standard
library: about 20,000 entries of 15 KB on average). Then times both
extractions of each tarball into empty directories on the same filesystem
(--target; ext4 is what a real state root sits on, a tmpfs measures CPU
alone), alternating which goes first, and prints the medians and the
ratios (import / tar; the goal is <= 1.0) side by side. Run as root.
Also printed: what an import pays before it makes any file (the sha256
of the input alone, and the input read through the import's own stream
with its headers parsed), and each tool's median CPU seconds (user +
sys, every thread): on N cores an import cannot take less wall time than
its CPU over N.

Both place their trees alike: the store flags its images directory +T,
and the bench flags the directory of tar's output dirs so. Every run's
tree is kept until the end: on an ext4 without a journal (this
machine's), a file made within a minute of a removal nearby is given an
inode only after a scan past every inode just deleted, and removing each
run's 20,000 files before the next made that scan 80% of both tools' time.
--remove-between measures that case: an import right after a removal.

On a tmpfs it is the other way round: use --remove-between. This
machine is a VM whose free memory goes back to its host, and memory the
guest does not hold costs a fault to the host, counted as the guest's
system time. `--target /dev/shm --corpus small` (trees kept) gave tar
0.45-0.59 s in its first three runs and 1.90-2.46 s in the last two, the
import alike (0.66-0.81 s, then 2.02-2.13 s); with --remove-between, tar
stayed at 0.40-0.44 s in two invocations (CPU alone, what the ratio
should compare). The cpu lines show it: on ext4 with trees kept, tar
used 2.93 s of CPU for the usr tree, against 0.41 s so.

    .venv/bin/python bench/import.py [--runs N] [--keep DIR] [--target DIR] [--corpus usr|small|both]
                                     [--remove-between]
"""

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runtime.image import archive, tarstream  # noqa: E402
from runtime.image.import_limits import ImportLimits  # noqa: E402
from runtime.image.store import mark_top_dir  # noqa: E402
SMALL_FILES = ["usr/include", "usr/share/doc", "usr/lib/python3.11", "usr/lib/python3", "usr/share/perl"]
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


def build_tarball(dest: Path, corpus: str) -> None:
    if corpus == "small":
        dirs = [d for d in SMALL_FILES if os.path.isdir("/" + d)]
    else:
        dirs, size, files = _pick_dirs()
        if size < MIN_BYTES or files < MIN_FILES:
            sys.exit(f"bench: /usr is too small for a {MIN_BYTES >> 20} MB / {MIN_FILES} file tarball")
    subprocess.run(["tar", "-cf", str(dest), "-C", "/", *dirs], check=True)


def _warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def timed(argv: list[str], tarball: Path) -> tuple[float, float]:
    """Wall seconds of the command, and the CPU seconds (user + sys, all its threads) it used."""
    # Both sides read the tarball from the page cache, and neither pays for
    # writing back what an earlier run left dirty.
    _warm(tarball)
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def input_side(tarball: Path) -> tuple[float, float]:
    """Seconds to sha256 the tarball alone, and to read it through the
    import's own stream (read and sha256 in its thread, headers parsed in
    this one, no file made): what an import pays before making any file."""
    _warm(tarball)
    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(tarball, "rb", buffering=0) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    hashed = time.perf_counter() - start
    start = time.perf_counter()
    with open(tarball, "rb") as f:
        stream = archive.DecodedStream(f, ImportLimits())
        try:
            for _ in tarstream.entries(stream):
                pass
            stream.finish()
        finally:
            stream.close()
    return hashed, time.perf_counter() - start


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _commands(tarball: Path) -> dict:
    python = str(REPO / ".venv" / "bin" / "python")
    return {
        "tar -xf": lambda out: ["tar", "-xf", str(tarball), "-C", str(out)],
        "images import": lambda out: [python, "-m", "runtime", "--root", str(out), "images", "import",
                                      str(tarball), "--name", "bench"],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="reuse/keep the tarballs in this directory")
    parser.add_argument("--target", default="/var/tmp", help="extract here (both tar and import)")
    parser.add_argument("--corpus", choices=["usr", "small", "both"], default="both")
    parser.add_argument("--remove-between", action="store_true", help="remove each run's tree before the next")
    args = parser.parse_args()
    corpora = ["usr", "small"] if args.corpus == "both" else [args.corpus]
    work = Path(tempfile.mkdtemp(prefix="terrarium-bench-", dir=args.target))
    # Tar's output dirs are placed as the store places each image's (mark_top_dir on its images directory).
    mark_top_dir(str(work))
    try:
        tar_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tarball-", dir=work))
        tarballs = {}
        fs = subprocess.run(["stat", "-f", "-c", "%T", str(work)], capture_output=True, text=True).stdout.strip()
        for corpus in corpora:
            tarball = tarballs[corpus] = tar_dir / f"{corpus}-rootfs.tar"
            if not tarball.exists():
                build_tarball(tarball, corpus)
            with tarfile.open(tarball) as tar:
                entries = sum(1 for _ in tar)
            print(f"{corpus}: {tarball.stat().st_size / 1e6:.0f} MB, {entries} entries")
        print(f"target {work} ({fs}); loadavg before: {_loadavg()}")
        for corpus in corpora:
            sides = [input_side(tarballs[corpus]) for _ in range(args.runs)]
            print(f"{corpus} input side, median of {args.runs}: sha256 alone "
                  f"{statistics.median(h for h, _ in sides):.2f}s, read + sha256 + headers parsed "
                  f"{statistics.median(p for _, p in sides):.2f}s")
        times = {(c, name): [] for c in corpora for name in _commands(tarballs[c])}
        cpu = {key: [] for key in times}
        for run in range(args.runs + 1):
            shown = []
            for corpus in corpora:
                commands = _commands(tarballs[corpus])
                order = list(commands) if run % 2 else list(commands)[::-1]
                for name in order:
                    out = Path(tempfile.mkdtemp(prefix="out-", dir=work))
                    took, used = timed(commands[name](out), tarballs[corpus])
                    if args.remove_between:
                        shutil.rmtree(out)
                    if run:
                        times[corpus, name].append(took)
                        cpu[corpus, name].append(used)
                    shown.append(f"{corpus} {name} {took:.2f}s")
            print(f"run {run}{' (warm-up)' if not run else ''}: {', '.join(shown)}", flush=True)
        print(f"{'median of ' + str(args.runs):16s}" + "".join(f"{c:>10s}" for c in corpora))
        med = {key: statistics.median(v) for key, v in times.items()}
        for name in ("tar -xf", "images import"):
            print(f"{name:16s}" + "".join(f"{med[c, name]:9.2f}s" for c in corpora))
        print(f"{'ratio import/tar':16s}" + "".join(
            f"{med[c, 'images import'] / med[c, 'tar -xf']:10.2f}" for c in corpora))
        for name in ("tar -xf", "images import"):
            print(f"{name + ' cpu':16s}" + "".join(f"{statistics.median(cpu[c, name]):9.2f}s" for c in corpora))
        print(f"loadavg after: {_loadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
