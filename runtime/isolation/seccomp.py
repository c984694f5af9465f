"""The default seccomp filter of every container process.

libseccomp (through ctypes) compiles `seccomp_profile` into classic BPF
once per process: `prepare()` builds it and keeps the program. Loading it
in a forked child is then one prctl(PR_SET_SECCOMP), so a container start
does not pay for compiling 350 rules in the child that runs right after
fork. Call `prepare()` in the parent, before forking.

`prepare(cache_dir)` also keeps the program on disk: compiling costs 12 ms
and more, most of a short-lived CLI process's start. A cache file begins
with its whole key (libseccomp's version and every rule, as text) and is
used only when that key matches exactly, so a changed profile or library
can never load a stale program.
"""

import _thread
import ctypes
import errno
import os
import zlib

from runtime.isolation import seccomp_profile
from runtime.linux import syscalls

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ARCH_X86 = 0x40000003
SCMP_ARCH_X32 = 0x4000003E
SCMP_CMP_NE = 1
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
SCMP_FLTATR_CTL_OPTIMIZE = 8
_NR_SCMP_ERROR = -1

# A binary tree of syscall numbers instead of libseccomp's default linear
# list: every syscall the container makes walks this filter, and the kernel
# also takes the tree faster at load (0.22 ms against 0.84 ms here).
_OPTIMIZE_BINARY_TREE = 2


def scmp_act_errno(err: int) -> int:
    return 0x00050000 | (err & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_program: tuple[bytes, ctypes.Array, _SockFprog] | None = None
# threading.Lock is this; the threading module would cost every CLI start.
_building = _thread.allocate_lock()


def _libseccomp() -> ctypes.CDLL:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    return lib


def _check(rc: int, call: str, detail: str) -> None:
    # libseccomp returns -errno instead of setting errno.
    if rc < 0:
        raise OSError(-rc, f"{call}: {detail}: {os.strerror(-rc)}")


def _rules():
    """(name, action, [(arg, op, datum_a, datum_b)]) for every rule of the profile."""
    for name in seccomp_profile.ALLOWED:
        yield name, SCMP_ACT_ALLOW, []
    for value in seccomp_profile.PERSONALITY_ALLOWED:
        yield "personality", SCMP_ACT_ALLOW, [(0, SCMP_CMP_EQ, value, 0)]
    yield "clone", SCMP_ACT_ALLOW, [(0, SCMP_CMP_MASKED_EQ, seccomp_profile.CLONE_NAMESPACE_FLAGS, 0)]
    yield "socket", SCMP_ACT_ALLOW, [(0, SCMP_CMP_NE, seccomp_profile.SOCKET_DENIED_FAMILY, 0)]
    for name in seccomp_profile.ENOSYS:
        yield name, scmp_act_errno(errno.ENOSYS), []


def build() -> bytes:
    """Compile the default profile into classic BPF (an array of struct sock_filter)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(scmp_act_errno(errno.EPERM))
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init: no filter context")
    try:
        # As Docker on amd64: 32-bit and x32 entry points get the same rules
        # instead of being a way around them.
        for arch in (SCMP_ARCH_X86, SCMP_ARCH_X32):
            rc = lib.seccomp_arch_add(ctx, arch)
            if rc != -errno.EEXIST:
                _check(rc, "seccomp_arch_add", hex(arch))
        _check(lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, _OPTIMIZE_BINARY_TREE),
               "seccomp_attr_set", "optimize")
        for name, action, args in _rules():
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr == _NR_SCMP_ERROR:
                continue
            cmps = (_ArgCmp * max(len(args), 1))(*args)
            _check(lib.seccomp_rule_add_array(ctx, action, nr, len(args), cmps), "seccomp_rule_add", name)
        fd = os.memfd_create("seccomp-bpf")
        try:
            _check(lib.seccomp_export_bpf(ctx, fd), "seccomp_export_bpf", "memfd")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def _cache_key(lib: ctypes.CDLL) -> bytes:
    version = lib.seccomp_version().contents
    rules = (SCMP_ARCH_X86, SCMP_ARCH_X32, _OPTIMIZE_BINARY_TREE, list(_rules()))
    return f"{version.major}.{version.minor}.{version.micro} {rules!r}\n".encode()


def cached_build(cache_dir) -> bytes:
    """The compiled profile kept in cache_dir, built and written there when it
    is missing or was built by another libseccomp or profile."""
    key = _cache_key(_libseccomp())
    path = os.path.join(cache_dir, f"seccomp-{zlib.crc32(key):08x}.bpf")
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(key) and (len(data) - len(key)) % 8 == 0 and len(data) > len(key):
            return data[len(key):]
    except FileNotFoundError:
        pass
    code = build()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600), "wb") as f:
            f.write(key + code)
        os.rename(tmp, path)
    except OSError:
        # A cache that cannot be written only costs the next process a build.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return code


def _compiled(code: bytes) -> tuple[bytes, ctypes.Array, _SockFprog]:
    buffer = ctypes.create_string_buffer(code, len(code))
    return code, buffer, _SockFprog(len(code) // 8, ctypes.addressof(buffer))


def prepare(cache_dir=None) -> bytes:
    """Build the default program once per process (or take it from cache_dir)
    and keep it for `apply_default_profile`. Threads that start containers
    at once wait for the first one's build."""
    global _program
    if _program is None:
        with _building:
            if _program is None:
                _program = _compiled(build() if cache_dir is None else cached_build(cache_dir))
    return _program[0]


def apply_default_profile() -> None:
    """Load the default filter into the calling process; it then holds across execve and fork."""
    # Not through prepare(): this runs in forked children, and a child forked
    # while another thread of its parent held the lock would wait for ever.
    fprog = (_program or _compiled(build()))[2]
    # Without CAP_SYS_ADMIN the kernel only accepts a filter under
    # no_new_privs; capabilities.apply_default() has usually set it already.
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
    syscalls.prctl(syscalls.PR_SET_SECCOMP, syscalls.SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
