"""The default seccomp filter, loaded in forked children and probed with real syscalls.

Every probe passes arguments that make the call harmless for a root process
without the filter (a missing path, a bad fd, a NULL pointer, a bad magic
number), so the same probes run unfiltered show that the EPERM comes from
the filter and not from the arguments or a missing capability.
"""

import ctypes
import errno
import mmap
import os
import platform
import signal
import struct
import sys
import threading

import pytest

from forked_child import run_forked, status_fields
from runtime.isolation import capabilities, seccomp, seccomp_profile

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="probes use x86_64 syscall numbers")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

MISSING = b"/nonexistent-terrarium-probe"
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
AF_VSOCK = 40

# name: (x86_64 number, harmless arguments)
PROBES = {
    "mount": (165, (None, MISSING, b"tmpfs", 0, None)),
    "umount2": (166, (MISSING, 0)),
    "unshare": (272, (CLONE_NEWNS,)),
    "setns": (308, ("uts-fd", 0)),
    "keyctl": (250, (0, -3, 0)),
    "add_key": (248, (None, None, None, 0, 0)),
    "request_key": (249, (None, None, None, 0)),
    "bpf": (321, (0, None, 0)),
    "perf_event_open": (298, (None, 0, -1, -1, 0)),
    "userfaultfd": (323, (os.O_CLOEXEC,)),
    "open_by_handle_at": (304, (-1, None, 0)),
    "name_to_handle_at": (303, (-1, None, None, None, 0)),
    "init_module": (175, (None, 0, None)),
    "finit_module": (313, (-1, None, 0)),
    "delete_module": (176, (b"terrarium_no_such_module", 0)),
    "kexec_load": (246, (0, 0, None, 0xDEAD0000)),
    "kexec_file_load": (320, (-1, -1, 0, None, 0xDEAD0000)),
    "reboot": (169, (0, 0, 0, None)),
    "swapon": (167, (MISSING, 0)),
    "swapoff": (168, (MISSING,)),
    "settimeofday": (164, (None, None)),
    "clock_settime": (227, (0, None)),
    "quotactl": (179, (0, None, 0, None)),
    "lookup_dcookie": (212, (0, None, 0)),
    "iopl": (172, (0,)),
    "ioperm": (173, (0, 0, 0)),
    "open_tree": (428, (-1, None, 0)),
    "move_mount": (429, (-1, None, -1, None, 0)),
    "fsopen": (430, (None, 0)),
    "fsconfig": (431, (-1, 0, None, None, 0)),
    "fsmount": (432, (-1, 0, 0)),
    "fspick": (433, (-1, None, 0)),
    "mount_setattr": (442, (-1, None, 0, None, 0)),
    "personality": (135, (0x0006,)),
    "socket": (41, (AF_VSOCK, 1, 0)),
}


def _c_arg(value, uts_fd):
    if value == "uts-fd":
        return ctypes.c_long(uts_fd)
    if value is None or isinstance(value, bytes):
        return ctypes.c_char_p(value)
    return ctypes.c_long(value)


def _probe_all(load_filter: bool):
    def setup():
        uts_fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
        if load_filter:
            seccomp.apply_default_profile()
        for name, (nr, args) in PROBES.items():
            ctypes.set_errno(0)
            rc = _libc.syscall(ctypes.c_long(nr), *(_c_arg(a, uts_fd) for a in args))
            result = "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
            os.write(1, f"{name} {result}\n".encode())
    code, out = run_forked(setup)
    assert code == 0, out
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module", autouse=True)
def prepared():
    seccomp.prepare()


def test_dangerous_syscalls_fail_with_eperm():
    results = _probe_all(load_filter=True)
    assert results == {name: "EPERM" for name in PROBES}


def test_probes_are_not_refused_without_the_filter():
    results = _probe_all(load_filter=False)
    assert "EPERM" not in results.values(), results


def _clone_probe():
    seccomp.apply_default_profile()
    for flags in (CLONE_NEWUSER | signal.SIGCHLD, signal.SIGCHLD):
        ctypes.set_errno(0)
        pid = _libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), None, None, None, None)
        if pid == 0:
            os._exit(7)
        if pid > 0:
            os.write(1, f"{flags:#x} exit {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}\n".encode())
        else:
            os.write(1, f"{flags:#x} {errno.errorcode[ctypes.get_errno()]}\n".encode())
    ctypes.set_errno(0)
    rc = _libc.syscall(ctypes.c_long(435), None, ctypes.c_long(0))
    os.write(1, f"clone3 {'ok' if rc >= 0 else errno.errorcode[ctypes.get_errno()]}\n".encode())


def test_clone_with_namespace_flag_is_eperm_plain_clone_works_clone3_is_enosys():
    code, out = run_forked(_clone_probe)
    assert code == 0, out
    assert out.splitlines() == ["0x10000011 EPERM", "0x11 exit 7", "clone3 ENOSYS"]


def _int80(nr: int, arg: int) -> int:
    """A syscall through the 32-bit entry point (raw result: -errno on failure)."""
    # push rbx; mov eax, nr; mov ebx, arg; int 0x80; pop rbx; ret
    code = b"\x53\xb8" + struct.pack("<I", nr) + b"\xbb" + struct.pack("<I", arg) + b"\xcd\x80\x5b\xc3"
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()


def _i386_probe(load_filter: bool):
    def setup():
        if load_filter:
            seccomp.apply_default_profile()
        # i386 numbers: getpid 20, unshare 310.
        os.write(1, f"{_int80(20, 0) == os.getpid()} {_int80(310, CLONE_NEWNS)}\n".encode())
    code, out = run_forked(setup)
    assert code == 0, out
    return out.split()


def test_32bit_entry_point_gets_the_same_rules():
    assert _i386_probe(load_filter=False) == ["True", "0"]
    assert _i386_probe(load_filter=True) == ["True", str(-errno.EPERM)]


def _personality_query_and_allowed_values():
    seccomp.apply_default_profile()
    for value in seccomp_profile.PERSONALITY_ALLOWED:
        os.write(1, f"{_libc.personality(ctypes.c_ulong(value))}\n".encode())


def test_allowed_personality_values_work():
    code, out = run_forked(_personality_query_and_allowed_values)
    assert code == 0, out
    assert all(int(line) >= 0 for line in out.splitlines()), out


def _apply_both():
    capabilities.apply_default()
    seccomp.apply_default_profile()


def test_status_after_execve_shows_filter_caps_and_no_new_privs():
    code, out = run_forked(_apply_both, ["/bin/busybox", "cat", "/proc/self/status"])
    assert code == 0, out
    st = status_fields(out)
    assert st["Seccomp"] == "2"
    assert st["Seccomp_filters"] == "1"
    assert st["NoNewPrivs"] == "1"
    assert st["CapEff"] == "00000000a80425fb"


def test_busybox_shell_pipelines_and_files_work(tmp_path):
    script = (
        f"set -e; cd {tmp_path}; echo hello > f; cat f | tr a-z A-Z > g; "
        "mkdir d; mv g d/h; ln -s d/h l; cat l; ls d | wc -l; "
        "sleep 0 & wait $!; rm -r d l f; ls | wc -l"
    )
    code, out = run_forked(_apply_both, ["/bin/busybox", "sh", "-c", script])
    assert (code, out.split()) == (0, ["HELLO", "1", "0"]), out


PYTHON_WORK = """
import os, socket, subprocess, threading, tempfile
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
cli.sendall(b"ping"); got = conn.recv(4)
t = threading.Thread(target=lambda: None); t.start(); t.join()
out = subprocess.run(["/bin/busybox", "echo", "child"], capture_output=True).stdout
with tempfile.TemporaryFile() as f:
    f.write(b"x"); f.seek(0); data = f.read()
a, b = socket.socketpair(); a.send(b"u"); unix = b.recv(1)
print(got.decode(), out.decode().strip(), data.decode(), unix.decode())
"""


def test_python_interpreter_with_sockets_threads_and_subprocess_works():
    code, out = run_forked(_apply_both, [sys.executable, "-I", "-c", PYTHON_WORK])
    assert (code, out.strip()) == (0, "ping child x u"), out


def _thread_in_filtered_process():
    seccomp.apply_default_profile()
    seen = []
    t = threading.Thread(target=lambda: seen.append(threading.get_native_id()))
    t.start()
    t.join()
    os.write(1, f"{len(seen)}\n".encode())


def test_threads_fall_back_from_clone3_to_clone():
    code, out = run_forked(_thread_in_filtered_process)
    assert (code, out) == (0, "1\n"), out


def test_unknown_syscall_names_are_skipped(monkeypatch):
    plain = seccomp.build()
    monkeypatch.setattr(seccomp_profile, "ALLOWED", seccomp_profile.ALLOWED + ("terrarium_no_such_syscall",))
    assert seccomp.build() == plain


def test_denied_names_are_not_in_the_allowlist():
    denied = {
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "keyctl", "add_key",
        "request_key", "bpf", "kexec_load", "kexec_file_load", "init_module", "finit_module",
        "delete_module", "open_by_handle_at", "userfaultfd", "perf_event_open", "reboot", "swapon",
        "swapoff", "settimeofday", "clock_settime", "acct", "quotactl", "lookup_dcookie", "iopl",
        "ioperm", "name_to_handle_at", "mount_setattr", "move_mount", "open_tree", "fsopen",
        "fsconfig", "fsmount", "fspick", "clone", "clone3", "personality", "socket",
        "io_uring_setup", "io_uring_enter", "io_uring_register",
    }
    assert denied.isdisjoint(seccomp_profile.ALLOWED)
