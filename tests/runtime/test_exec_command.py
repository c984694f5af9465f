"""How a container's command is found on $PATH (init.exec_command), in a forked child."""

import os

from runtime.isolation.container_init import exec_command


def exec_in_child(argv, path) -> tuple[int, str]:
    """(exit status, error message) of exec_command in a child; a command that ran exits with its own status."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            exec_command(argv, {"PATH": path})
        except OSError as exc:
            os.write(w, exc.strerror.encode())
        os._exit(100)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        message = f.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), message


def script(directory, name, body, mode=0o755):
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(mode)


def test_the_first_executable_on_the_path_runs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    script(tmp_path / "b", "cmd", "exit 7")
    assert exec_in_child(["cmd"], f"{tmp_path}/missing:{tmp_path}/a:{tmp_path}/b") == (7, "")


def test_a_file_that_is_not_executable_is_skipped_for_a_later_one(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    script(tmp_path / "a", "cmd", "exit 1", mode=0o644)
    script(tmp_path / "b", "cmd", "exit 8")
    assert exec_in_child(["cmd"], f"{tmp_path}/a:{tmp_path}/b") == (8, "")


def test_only_a_file_that_is_not_executable_is_permission_denied(tmp_path):
    script(tmp_path, "cmd", "exit 1", mode=0o644)
    assert exec_in_child(["cmd"], str(tmp_path)) == (100, "permission denied: cmd")


def test_a_missing_command_is_not_found_in_path(tmp_path):
    assert exec_in_child(["nope"], str(tmp_path)) == (100, "executable file not found in $PATH: nope")


def test_a_path_with_a_slash_is_not_searched(tmp_path):
    script(tmp_path, "cmd", "exit 9")
    assert exec_in_child([f"{tmp_path}/cmd"], "/nonexistent") == (9, "")
    assert exec_in_child(["./cmd"], str(tmp_path))[1] == "executable file not found in $PATH: ./cmd"
