"""The compiled seccomp program kept on disk between processes."""

import os
import select
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from runtime.isolation import seccomp


def test_cache_returns_what_libseccomp_builds(tmp_path):
    built = seccomp.build()
    assert seccomp.cached_build(tmp_path) == built
    [cached] = tmp_path.iterdir()
    assert cached.read_bytes().endswith(built)
    assert seccomp.cached_build(tmp_path) == built


def test_a_cache_file_with_another_key_is_rebuilt(tmp_path):
    seccomp.cached_build(tmp_path)
    [cached] = tmp_path.iterdir()
    cached.write_bytes(b"1.0.0 [another profile]\n" + b"\0" * 8)
    assert seccomp.cached_build(tmp_path) == seccomp.build()
    assert cached.read_bytes().endswith(seccomp.build())


def test_threads_preparing_at_once_share_one_build(tmp_path, monkeypatch):
    monkeypatch.setattr(seccomp, "_program", None)
    real_build, builds = seccomp.build, []

    def slow_build():
        # Long enough that every thread arrives while the first one builds.
        builds.append(1)
        time.sleep(0.2)
        return real_build()

    monkeypatch.setattr(seccomp, "build", slow_build)
    with ThreadPoolExecutor(max_workers=20) as pool:
        programs = list(pool.map(lambda _: seccomp.prepare(tmp_path / "cache"), range(20)))
    assert programs == [real_build()] * 20 and len(builds) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".tmp")] and \
        not [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")]


def test_a_child_forked_while_another_thread_prepares_still_loads_the_filter():
    seccomp.prepare()
    # As if another thread of the launcher were building when this one forked pid 1.
    with seccomp._building:
        pid = os.fork()
        if pid == 0:
            try:
                seccomp.apply_default_profile()
            finally:
                os._exit(0)
    pidfd = os.pidfd_open(pid)
    exited = False
    try:
        exited = bool(select.select([pidfd], [], [], 30)[0])
    finally:
        os.close(pidfd)
        if not exited:
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    assert exited, "the child waited for a lock no thread of it holds"
    assert os.waitstatus_to_exitcode(status) == 0
