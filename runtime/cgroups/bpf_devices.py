"""Device control on cgroup v2: an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program.

v2 has no devices.allow file; the kernel instead runs a program attached
to the cgroup on every open and mknod of a device node, with
`struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}` in r1
(access_type = access bits << 16 | device type), and allows the operation
when the program returns 1. The program is assembled here from raw
instructions, one block per rule of `device_rules.ALLOWED`, falling
through to "deny".

The program is attached without BPF_F_ALLOW_OVERRIDE or ALLOW_MULTI, so
nothing below the container's cgroup can replace or widen it; the kernel
frees it when the cgroup is removed.
"""

import ctypes
import os
import struct

from runtime.cgroups.device_rules import ALLOWED, DeviceRule
from runtime.linux import syscalls

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6

_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# Opcodes (class | size/op | source) of the few instructions the program uses.
_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_MOV32_REG = 0xBC  # dst = (u32) src
_AND32_IMM = 0x54
_RSH32_IMM = 0x74
_MOV64_IMM = 0xB7
_JNE_IMM = 0x55  # if dst != imm: pc += off
_EXIT = 0x95

# Register use: r2 access bits, r3 device type, r4 major, r5 minor, r1 scratch.
_R0, _R1, _R2, _R3, _R4, _R5 = range(6)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | (src << 4), off, imm)


def _rule_block(rule: DeviceRule) -> list[bytes]:
    """Instructions that return 1 when the request matches rule, else fall through."""
    checks = [(_R3, _TYPE[rule.kind])]
    if rule.major is not None:
        checks.append((_R4, rule.major))
    if rule.minor is not None:
        checks.append((_R5, rule.minor))
    denied_bits = 7 & ~sum(_ACCESS[a] for a in rule.access)
    # Each check is a jump over the rest of the block; its offset is only
    # known once the block's length is, so the tail is built first.
    tail = []
    if denied_bits:
        tail = [_insn(_MOV32_REG, _R1, _R2), _insn(_AND32_IMM, _R1, imm=denied_bits), None]
    tail += [_insn(_MOV64_IMM, _R0, imm=1), _insn(_EXIT)]
    block = [None] * len(checks) + tail
    for i, insn in enumerate(block):
        if insn is None:
            reg, value = checks[i] if i < len(checks) else (_R1, 0)
            block[i] = _insn(_JNE_IMM, reg, off=len(block) - i - 1, imm=value)
    return block


def program() -> bytes:
    insns = [
        _insn(_LDX_W, _R2, _R1, off=0),
        _insn(_LDX_W, _R4, _R1, off=4),
        _insn(_LDX_W, _R5, _R1, off=8),
        _insn(_MOV32_REG, _R3, _R2),
        _insn(_AND32_IMM, _R3, imm=0xFFFF),
        _insn(_RSH32_IMM, _R2, imm=16),
    ]
    for rule in ALLOWED:
        insns += _rule_block(rule)
    insns += [_insn(_MOV64_IMM, _R0, imm=0), _insn(_EXIT)]
    return b"".join(insns)


class _ProgLoadAttr(ctypes.Structure):
    _fields_ = [
        ("prog_type", ctypes.c_uint32),
        ("insn_cnt", ctypes.c_uint32),
        ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64),
        ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64),
        ("kern_version", ctypes.c_uint32),
        ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * 16),
    ]


class _ProgAttachAttr(ctypes.Structure):
    _fields_ = [
        ("target_fd", ctypes.c_uint32),
        ("attach_bpf_fd", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("attach_flags", ctypes.c_uint32),
    ]


_LICENSE = ctypes.create_string_buffer(b"Apache-2.0")


def load() -> int:
    """Load the device program; returns its fd (close-on-exec)."""
    code = program()
    insns = ctypes.create_string_buffer(code, len(code))
    attr = _ProgLoadAttr(
        prog_type=BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt=len(code) // 8,
        insns=ctypes.addressof(insns),
        license=ctypes.addressof(_LICENSE),
        prog_name=b"terrarium_dev",
    )
    try:
        return syscalls.bpf(BPF_PROG_LOAD, attr)
    except OSError as exc:
        # Load again with the verifier's log so the error says why.
        log = ctypes.create_string_buffer(65536)
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log), ctypes.addressof(log)
        try:
            syscalls.bpf(BPF_PROG_LOAD, attr)
        except OSError:
            pass
        reason = log.value.decode(errors="replace").strip().splitlines()
        raise OSError(exc.errno, f"bpf: device program rejected: {reason[-1] if reason else exc.strerror}") from None


def restrict(cgroup_path: str) -> None:
    """Attach the device program to the cgroup v2 directory."""
    prog_fd = load()
    try:
        cgroup_fd = os.open(cgroup_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attr = _ProgAttachAttr(target_fd=cgroup_fd, attach_bpf_fd=prog_fd, attach_type=BPF_CGROUP_DEVICE)
            syscalls.bpf(BPF_PROG_ATTACH, attr)
        finally:
            os.close(cgroup_fd)
    finally:
        os.close(prog_fd)
