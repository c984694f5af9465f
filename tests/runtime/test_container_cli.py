"""The container commands of `python -m runtime`, as a user runs them."""

import json
import subprocess
import sys


def cli(*args, input=None):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True,
                          input=input, timeout=60)


def test_run_streams_output_and_exits_with_the_containers_code(rt):
    result = cli("run", "--rm", "busybox", "sh", "-c", "echo hello; echo oops >&2; exit 7")
    assert (result.returncode, result.stdout, result.stderr) == (7, "hello\n", "oops\n")
    assert rt.list(all=True) == []


def test_dashes_after_the_image_belong_to_the_command(rt):
    result = cli("run", "--rm", "busybox", "ls", "-d", "--", "/tmp")
    assert (result.returncode, result.stdout) == (0, "/tmp\n")


def test_an_oom_killed_container_exits_137(rt):
    result = cli("run", "--rm", "--memory", "32m", "busybox", "sh", "-c", 'random="$(dd if=/dev/urandom ibs=20000)"')
    assert result.returncode == 137


def test_interactive_run_feeds_stdin(rt):
    result = cli("run", "--rm", "-i", "busybox", "sh", "-c", "read line; echo got $line", input="abc\n")
    assert (result.returncode, result.stdout) == (0, "got abc\n")


def test_detached_run_ps_inspect_exec_logs_stop_rm(rt):
    cid = cli("run", "-d", "--name", "web", "--memory", "64m", "busybox", "sh", "-c", "echo ready; sleep 60").stdout.strip()
    assert [c["id"] for c in json.loads(cli("ps", "--json").stdout)] == [cid]
    data = json.loads(cli("inspect", "web").stdout)
    assert data["status"] == "running" and data["limits"]["memory_bytes"] == 64 << 20 and data["cgroup_paths"]
    assert data["namespaces"]["pid"].startswith("pid:")
    assert cli("exec", "web", "hostname").stdout == "web\n"
    stats = json.loads(cli("stats", "--no-stream", "--json", "web").stdout)
    assert stats["memory_limit_bytes"] == 64 << 20
    assert cli("logs", "web").stdout == "ready\n"
    assert cli("pause", "web").returncode == 0 and cli("unpause", "web").returncode == 0
    assert cli("kill", "-s", "KILL", "web").returncode == 0
    # kill only sends the signal, as docker kill does; the shim records the exit just after.
    assert rt.wait("web", timeout=10).status == "exited"
    assert json.loads(cli("inspect", "web").stdout)["exit_code"] == 137
    assert cli("rm", "web").returncode == 0


def test_ps_keeps_columns_apart_when_a_name_is_longer_than_its_header(rt, state_root, busybox_tar):
    rt.images.import_archive(busybox_tar, name="busybox-38cf0032-long")
    cid = cli("run", "-d", "--name", "a-container-named-at-length", "busybox-38cf0032-long", "sleep", "60").stdout.strip()
    header, row = cli("ps").stdout.splitlines()
    assert header.split() == ["CONTAINER", "ID", "NAME", "IMAGE", "STATUS", "PID", "COMMAND"]
    assert row.split()[:4] == [cid[:12], "a-container-named-at-length", "busybox-38cf0032-long", "running"]
    assert row.index("busybox-38cf0032-long") == header.index("IMAGE")


def test_bad_input_gets_one_error_line_and_exit_1(rt):
    for args in (["run", "--memory", "10x", "busybox", "true"], ["run", "nosuchimage", "true"],
                 ["run", "--bogus", "busybox"], ["rm", "nosuch"], ["kill", "-s", "NOPE", "x"],
                 ["run", "--rm", "busybox", "/no/such"]):
        result = cli(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (args, result.stderr)
    assert rt.list(all=True) == []
