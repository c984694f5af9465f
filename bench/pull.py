"""Pull speed: `python -m runtime images pull` from a registry on 127.0.0.1
against `skopeo copy docker://... dir:...` of the same image.

Starts docker-registry on the loopback (tests/registry_testing.py),
pushes an image of gzip layers built here (the busybox rootfs, then this
machine's /usr/lib/python3.11 and /usr/include: tens of MB, thousands of
files), then times the pulls into empty directories, rotating which goes
first, and prints the medians and the ratio (pull / skopeo; the goal is
<= 1.0). skopeo only writes the blobs; the pull also unpacks them, so the
run also times skopeo followed by `gzip -dc` of each layer to /dev/null
(the decompression every unpacking pull pays, with no file made) and
skopeo followed by `tar -xzf` of each layer in order (fetch and unpack,
whiteouts aside), and prints those ratios too. Every run's tree is kept
until the end, as in bench/import.py: a file made right after a removal
nearby waits for a scan of the inodes just freed. Run as root; the
machine's load average is printed before and after.

    .venv/bin/python bench/pull.py [--runs N] [--target DIR]
"""

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from registry_testing import Registry, sha  # noqa: E402
from runtime.image import busybox  # noqa: E402
from runtime.image.store import mark_top_dir  # noqa: E402

TREES = ["usr/lib/python3.11", "usr/include"]


def build_layers(work: Path) -> list[bytes]:
    layers = [gzip.compress(busybox.write_tarball(work / "busybox.tar").read_bytes(), 6)]
    for rel in TREES:
        if os.path.isdir("/" + rel):
            tar = subprocess.run(["tar", "-cf", "-", "-C", "/", rel], check=True, capture_output=True).stdout
            layers.append(gzip.compress(tar, 6))
    return layers


def timed(argv: list[str]) -> float:
    os.sync()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", default="/var/tmp", help="pull into here (both sides)")
    args = parser.parse_args()
    if not shutil.which("skopeo") or not shutil.which("docker-registry"):
        sys.exit("bench: needs skopeo and docker-registry (scripts/setup.sh installs them)")
    work = Path(tempfile.mkdtemp(prefix="terrarium-bench-pull-", dir=args.target))
    # Tar's output dirs are placed as the store places each image's (mark_top_dir on its images directory).
    mark_top_dir(str(work))
    registry = Registry()
    try:
        layers = build_layers(work)
        registry.push_image("bench/image", "1", layers, config={"Cmd": ["sh"]})
        ref = f"{registry.netloc}/bench/image:1"
        print(f"image: {len(layers)} layers, {sum(map(len, layers)) / 1e6:.1f} MB compressed; target {work}")
        python = str(REPO / ".venv" / "bin" / "python")
        skopeo = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}"]
        untar = " && ".join(f"tar -xzf image/{sha(layer)[7:]} -C rootfs" for layer in layers)
        gunzip = " && ".join(f"gzip -dc image/{sha(layer)[7:]} >/dev/null" for layer in layers)
        commands = {
            "skopeo copy": lambda out: [*skopeo, f"dir:{out}/image"],
            "skopeo + gunzip": lambda out: ["sh", "-c", f"cd {out} && {' '.join(skopeo)} dir:image && {gunzip}"],
            "skopeo + tar": lambda out: ["sh", "-c", f"cd {out} && {' '.join(skopeo)} dir:image && mkdir rootfs && {untar}"],
            "images pull": lambda out: [python, "-m", "runtime", "--root", str(out), "images", "pull", ref,
                                        "--name", "bench"],
        }
        times = {name: [] for name in commands}
        print(f"loadavg before: {_loadavg()}")
        for run in range(args.runs + 1):
            names = list(commands)
            order = names[run % len(names):] + names[:run % len(names)]
            took = {}
            for name in order:
                out = Path(tempfile.mkdtemp(prefix="out-", dir=work))
                took[name] = timed(commands[name](out))
                if run:
                    times[name].append(took[name])
            print(f"run {run}{' (warm-up)' if not run else ''}: "
                  + ", ".join(f"{name} {took[name]:.2f}s" for name in order), flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        for name, value in med.items():
            print(f"median {name:15s} {value:.2f}s")
        print(f"ratio pull/skopeo: {med['images pull'] / med['skopeo copy']:.2f}")
        print(f"ratio (skopeo + gunzip)/skopeo: {med['skopeo + gunzip'] / med['skopeo copy']:.2f}")
        print(f"ratio pull/(skopeo + tar): {med['images pull'] / med['skopeo + tar']:.2f}")
        print(f"loadavg after: {_loadavg()}")
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
