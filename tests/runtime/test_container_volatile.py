"""A volatile writable layer: `run --rm` containers skip overlayfs's sync of
the disk on exit, and a volatile container starts each time from a fresh layer."""

import subprocess
import sys

from container_testing import sh

from runtime.config import ContainerConfig

ROOT_OPTIONS = "awk '$5 == \"/\" {print $NF}' /proc/self/mountinfo"


def is_volatile(options: str) -> bool:
    # Kernels since 6.8 show the option as fsync=volatile.
    return bool({"volatile", "fsync=volatile"} & set(options.strip().split(",")))


def test_a_volatile_container_mounts_its_layer_volatile(rt):
    code, output = sh(rt, ROOT_OPTIONS, volatile=True)
    assert code == 0 and is_volatile(output)
    code, output = sh(rt, ROOT_OPTIONS)
    assert code == 0 and "upperdir=" in output and not is_volatile(output)


def test_a_volatile_container_starts_again_from_a_fresh_layer(rt):
    script = "test -e /kept && exit 3; touch /kept"
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", script], volatile=True))
    assert rt.wait(state.id).exit_code == 0
    rt.start(state.id)
    assert rt.wait(state.id).exit_code == 0
    rt.delete(state.id)


def test_a_kept_layer_keeps_its_files_across_starts(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "test -e /kept && exit 3; touch /kept"]))
    assert rt.wait(state.id).exit_code == 0
    rt.start(state.id)
    assert rt.wait(state.id).exit_code == 3
    rt.delete(state.id)


def test_run_rm_on_the_command_line_is_volatile(rt):
    result = subprocess.run([sys.executable, "-m", "runtime", "run", "--rm", "busybox", "sh", "-c", ROOT_OPTIONS],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and is_volatile(result.stdout)
