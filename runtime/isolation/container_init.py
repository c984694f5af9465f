"""The container's pid 1 from fork to execve.

`container_init` runs in the child the shim forks after unshare(CLONE_NEWPID),
so the child is already pid 1 of the new pid namespace. It makes the
namespaces every container gets, then waits for its plan: a shim forked
ahead of time (see runtime.shim.supervisor) has its pid 1 waiting there. It never returns:
it execs the command, or reports why it could not on the error pipe and
exits 127. The error pipe is close-on-exec, so a successful execve shows as
end-of-file to whoever reads it; no other signal of success is needed.
"""

import _signal
import json
import os
import signal
import socket

from runtime.errors import TerrariumError
from runtime.isolation import capabilities, filesystem, layerdisk, loopback, overlay, seccomp, terminal, users, userns
from runtime.isolation.plan import InitPlan
from runtime.linux import syscalls as sc
from runtime.linux.procinfo import set_name
from runtime.network import inside, netlink

START_FAILED = 127
MAX_PLAN = 1 << 20


def exec_command(argv: list[str], env: dict[str, str]) -> None:
    """execvpe, with the failure a user can act on as the message.

    The $PATH search stats each candidate and calls execve only on one that
    exists: a failed execve from this big a process costs ~60 us, a stat a
    few, and the default PATH has five entries before /bin."""
    name = argv[0]
    candidates = [name] if "/" in name else [f"{d or '.'}/{name}" for d in env.get("PATH", os.defpath).split(":")]
    first_error = None
    for path in candidates:
        try:
            os.stat(path)
            os.execve(path, argv, env)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            # As execvp: keep searching, and report this if nothing runs.
            first_error = first_error or exc
    if isinstance(first_error, PermissionError):
        raise OSError(13, f"permission denied: {name}")
    if first_error is not None:
        raise first_error
    raise OSError(2, f"executable file not found in $PATH: {name}")


# The shim ignores these (see runtime.shim.supervisor), and its pid 1 inherits them.
SUPERVISOR_IGNORED = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT)


def ignored_signals() -> tuple[int, ...]:
    """Every signal this process ignores, as the kernel lists them (SigIgn in
    /proc/self/status): the signal module's view leaves out the two that
    glibc keeps for itself (32 and 33)."""
    fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
    try:
        status = os.read(fd, 65536)
    finally:
        os.close(fd)
    mask = int(status.split(b"\nSigIgn:", 1)[1].split(None, 1)[0], 16)
    return tuple(sig for sig in range(1, 65) if mask >> (sig - 1) & 1)


def reset_signals(ignored: tuple[int, ...] | None = None) -> None:
    """Give the command default signal handling and an empty mask.

    Ignored dispositions survive execve, and the shim ignores SIGTERM, SIGINT,
    SIGHUP and SIGQUIT (Python itself ignores SIGPIPE and SIGXFSZ): without
    this, `sh` could not trap SIGTERM and `yes | head -1` would never end.
    ignored: those this process has ignored, as `host_facts` found them;
    by default it looks. Caught signals go back to the default at execve
    by themselves.
    """
    if ignored is None:
        ignored = ignored_signals()
    for sig in ignored:
        sc.default_signal(sig)
    # _signal, the C module: signal's wrappers convert to and from enums,
    # Python code whose pages a forked process copies to run.
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def host_facts() -> tuple[list[tuple[str, str, str]], tuple[int, ...]]:
    """What a shim's pid 1 would otherwise find out for itself, the same for
    every container: the host's cgroup v1 hierarchies (filesystem.host_cgroup_v1_mounts)
    and the signals it has ignored, in a shim forked from this process. A
    forker reads them once, and again after the host's mounts change: a pid 1
    spends ~0.7 ms of CPU on them, most of it copying the pages that parsing
    mountinfo touches."""
    ignored = set(ignored_signals())
    ignored.update(SUPERVISOR_IGNORED)
    # The shim gives pid 1 the default, to collect its exit status.
    ignored.discard(signal.SIGCHLD)
    return filesystem.host_cgroup_v1_mounts(), tuple(sorted(int(sig) for sig in ignored))


def join_cgroup(files: list[str | int]) -> None:
    """Move the calling single-threaded process into a cgroup by writing 0
    into each of the driver's `join_files`, given by path or as descriptors
    opened for writing (a spare's: its cgroup may be renamed any time)."""
    for target in files:
        if isinstance(target, int):
            fd = target
        else:
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise OSError(2, f"cannot join the container's cgroup: {target} is gone") from None
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def take_container_credentials(uid, gid, bounding_dropped: bool) -> None:
    """The last steps before the execve of every process that enters a
    container, its pid 1 (which dropped the bounding set ahead, see
    capabilities.drop_bounding) or an exec'd one: a user or group given by
    name is looked up in the container's /etc, then the seccomp filter, then
    the capabilities and ids.

    The filter first, while this process still has CAP_SYS_ADMIN: the
    capability drop and the execve then happen under it, and there is no
    moment with the container's credentials and no filter."""
    groups = None
    if isinstance(uid, str) or isinstance(gid, str):
        # The mount namespace joined, / is the container's: its files, its symlinks.
        uid, gid, groups = users.resolve(uid, gid)
    seccomp.apply_default_profile()
    if bounding_dropped:
        capabilities.reduce_to(uid=uid, gid=gid, groups=groups)
    else:
        capabilities.apply_default(uid=uid, gid=gid, groups=groups)


def enter_cgroup(files: list[str | int]) -> None:
    """Join the container's cgroup, while the host's /sys/fs/cgroup is still
    visible, then make the cgroup namespace, which has it as its root."""
    join_cgroup(files)
    sc.unshare(sc.CLONE_NEWCGROUP)


def receive_plan(plan_channel: socket.socket) -> tuple[InitPlan, bool, int | None]:
    """The plan, whether stdin stays open, and the mount of a disk-limited
    layer (or None), as the launcher sends them. The channel stays open
    until the execve closes it: that end-of-file is how the launcher learns
    the command runs (see shim.client.WarmShim.start)."""
    message, fds, _, _ = socket.recv_fds(plan_channel, MAX_PLAN, 1)
    if not message:
        # The shim was discarded unused: nothing to start, nothing to report.
        os._exit(0)
    request = json.loads(message)
    return InitPlan(**request["plan"]), request["interactive"], fds[0] if fds else None


def make_pipes(interactive: bool) -> tuple[list[int], list[int]]:
    """The command's stdin, stdout and stderr, and the ends the shim gets:
    stdout's and stderr's, and stdin's if interactive."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    theirs = [out_r, err_r]
    if interactive:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        theirs.append(in_w)
    else:
        in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return [in_r, out_w, err_w], theirs


def hand_to_shim(shim_channel: socket.socket, layer: int, theirs: list[int]) -> None:
    """The shim's ends of the command's stdio (or the PTY master), after
    layer, a detached copy of the rootfs mount: the shim holds the layer until it has
    recorded the exit, so the sync of the upper filesystem that unmounting
    the overlay's last mount does comes after that, not in this process's exit."""
    socket.send_fds(shim_channel, [b"s"], [layer, *theirs])
    for fd in (layer, *theirs):
        os.close(fd)


def container_init(plan_channel: socket.socket, shim_channel: socket.socket, error_fd: int, stage_dir: str,
                   cgroup_ahead: tuple[str, list[int]] | None = None, host=None) -> None:
    """The ordered steps of a container start. The plan comes over
    plan_channel; the command's pipes, or for a tty the master of a PTY from
    the container's devpts, go to the shim over shim_channel. stage_dir is
    an empty host directory to build /proc, /sys and /dev on ahead (in this
    process's own mount namespace; the host never sees those mounts).
    cgroup_ahead, (cgroup version, its join files opened), is the cgroup made for this
    spare, which the launcher renames for its container (see
    cgroups.V1Driver.adopt); without it the plan names the cgroup to join.
    host is `host_facts()` as the shim's parent read them; without it, this
    process reads them."""
    try:
        # Until its execve this process holds its launcher's memory, and an
        # exec may join the container as soon as the shim has recorded the
        # start, before that execve: non-dumpable, the container's processes
        # (without CAP_SYS_PTRACE) cannot trace it or read its /proc files or
        # memory. The execve makes the program dumpable as usual.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        # The runtime's own files are made under umask 077; what this process
        # makes in the container (mount points, /dev) and its command get the
        # container's usual 022, as runc's default process umask.
        os.umask(0o022)
        set_name("terrarium-init")
        # The same for every container, so a pre-forked init has done this
        # before its container is chosen. The user namespace and the
        # namespaces its root must hold capabilities in come first (see
        # runtime.isolation.userns); the mount namespace stays the host
        # user namespace's, since everything mounted below needs host root.
        # Private at once: no mount event must propagate from the container
        # to the host or back. /proc, /sys and /dev with their masks are
        # mounted here too, and moved into the rootfs once it is known.
        # A socket of the host's network namespace, before this process
        # leaves it: the veth of a container on a network is made with it
        # (runtime.network.inside); closed before the command runs.
        host_rtnl = netlink.Socket()
        ahead = userns.Ahead()
        sc.unshare(sc.CLONE_NEWNS)
        filesystem.make_private()
        loopback.bring_up()
        cgroup_v1_mounts, ignored = host or (filesystem.host_cgroup_v1_mounts(), None)
        if cgroup_ahead is not None:
            enter_cgroup(cgroup_ahead[1])
        staged = filesystem.stage(stage_dir, cgroup_ahead and (cgroup_ahead[0], cgroup_v1_mounts))
        capabilities.drop_bounding()
        reset_signals(ignored)
        plan, interactive, layer_fd = receive_plan(plan_channel)
        if plan.network is not None:
            inside.attach(plan.network, host_rtnl)
        host_rtnl.close()
        if cgroup_ahead is None:
            enter_cgroup(plan.cgroup_files)
        rootfs = f"{staged}/{filesystem.STAGED_ROOT}"
        upper, work, lower = plan.upper, plan.work, plan.lower
        if plan.disk is not None:
            if layer_fd is None:
                raise TerrariumError("the container's disk was not handed over")
            upper, work = layerdisk.attach(layer_fd, f"{staged}/{filesystem.STAGED_LAYER}")
            os.close(layer_fd)
        if plan.uid_base is not None:
            ahead.map_to(plan.uid_base)
            # The image and the init layer through the map: their root-owned
            # files are the container root's, and nothing is copied.
            lower = [f"{staged}/lower{i}" for i in range(len(plan.lower))]
            for path, target in zip(plan.lower, lower):
                userns.idmapped(path, ahead.user, target)
            # The writable layer is not idmapped: what the container makes
            # is owned on the host by its range. Its top is the container's /.
            if os.stat(upper).st_uid != plan.uid_base:
                os.chown(upper, plan.uid_base, plan.uid_base)
        ahead.release()
        overlay.mount_overlay(lower, upper, work, rootfs, plan.volatile)
        socket.sethostname(plan.hostname)
        filesystem.write_etc(staged, plan.hostname, plan.nameservers)
        if plan.uid_base is not None:
            filesystem.give_to(staged, plan.uid_base)
        filesystem.build(rootfs, staged, None if cgroup_ahead else (plan.cgroup_version, cgroup_v1_mounts))
        # Taken while this process is host root: joining the user namespace ends that.
        layer = sc.open_tree("/", sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
        if plan.uid_base is not None:
            userns.join(ahead.user)
        os.close(ahead.user)
        os.makedirs(plan.workdir, exist_ok=True)
        os.chdir(plan.workdir)
        if plan.tty:
            master, slave = terminal.open_pair()
            hand_to_shim(shim_channel, layer, [master])
            terminal.make_controlling(slave)
        else:
            stdio, theirs = make_pipes(interactive)
            hand_to_shim(shim_channel, layer, theirs)
            os.setsid()
            for target, fd in enumerate(stdio):
                os.dup2(fd, target, inheritable=True)
        shim_channel.close()
        sc.close_all_except(error_fd, plan_channel.fileno())
        take_container_credentials(plan.uid, plan.gid, bounding_dropped=True)
        exec_command(plan.argv, plan.env)
    except BaseException as exc:  # noqa: BLE001 - pid 1 must report, never unwind into the shim's code
        if isinstance(exc, OSError) and exc.strerror:
            message = exc.strerror
        else:
            message = str(exc) if isinstance(exc, TerrariumError) else f"{type(exc).__name__}: {exc}"
        try:
            os.write(error_fd, message.encode(errors="replace")[:4000])
            # The launcher, waiting for the execve, hears of the failure too.
            plan_channel.send(b"x")
        except OSError:
            pass
        finally:
            os._exit(START_FAILED)
