"""A pids limit stops a fork loop."""


from runtime.cgroups import Limits

FORK_LOOP = """
import errno, os, time
forked = 0
while forked < 1000:
    try:
        pid = os.fork()
    except OSError as exc:
        print(forked, errno.errorcode[exc.errno], flush=True)
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    forked += 1
else:
    print(forked, "none", flush=True)
time.sleep(60)
"""


def test_pids_limit_stops_a_fork_loop(cg):
    cg.create("forks", Limits(pids_limit=10))
    proc = cg.start("forks", FORK_LOOP, stdout=-1, text=True)
    forked, error = proc.stdout.readline().split()
    assert (int(forked), error) == (9, "EAGAIN")
    stats = cg.driver.stats("forks")
    assert stats["pids"] == 10
    assert stats["pids_limit"] == 10


def test_raising_the_pids_limit_lets_more_processes_start(cg):
    cg.create("forks", Limits(pids_limit=3))
    cg.start("forks", "import time; time.sleep(60)")
    cg.driver.update("forks", Limits(pids_limit=12))
    proc = cg.start("forks", FORK_LOOP, stdout=-1, text=True)
    forked, error = proc.stdout.readline().split()
    assert (int(forked), error) == (10, "EAGAIN")
