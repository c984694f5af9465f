"""Run a setup function in a forked child, never in the pytest process.

The child's stdout and stderr go to one pipe the parent reads to EOF; the
child then either execs `argv` or exits 0 (111 if the setup raised, with
the traceback in the output).
"""

import os
import traceback


def run_forked(setup, argv=None) -> tuple[int, str]:
    """(exit status, combined output) of a child that ran `setup()` then `argv`."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 111
        try:
            os.close(read_fd)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            setup()
            if argv:
                os.execv(argv[0], argv)
            code = 0
        except BaseException:
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    with os.fdopen(read_fd, "rb") as pipe:
        for chunk in iter(lambda: pipe.read(65536), b""):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


def status_fields(text: str) -> dict[str, str]:
    """The `Key:\tvalue` lines of /proc/<pid>/status."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields
