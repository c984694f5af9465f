"""The default seccomp profile as data.

Source: Docker's default profile, moby/moby profiles/seccomp/default.json
(the syscalls it allows unconditionally, plus the x86 ones it allows on
amd64), written out here by hand. Differences, all stricter:

- io_uring_setup/enter/register are left out, as moby itself did in 2023
  (moby#46762): io_uring performs file and socket work that seccomp never
  sees, and has been a steady source of container breakouts.
- name_to_handle_at is left out with open_by_handle_at: a handle is only
  useful to open_by_handle_at, which needs CAP_DAC_READ_SEARCH.
- Syscalls Docker allows only when a capability outside the default 14 is
  granted (CAP_SYS_ADMIN: mount, unshare, setns, sethostname...;
  CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_SYS_PTRACE: kcmp,
  pidfd_getfd, process_madvise; CAP_SYS_NICE: mbind...) stay denied, since
  Terrarium never grants those capabilities.

ptrace, process_vm_readv and process_vm_writev are allowed as Docker does on
kernels >= 4.8: from 4.8 on the kernel re-checks seccomp after a tracer
changes a syscall, so tracing cannot bypass the filter, and the pid
namespace limits tracees to the container's own processes. Students get to
use strace and gdb.

chroot is allowed because CAP_SYS_CHROOT is one of the default 14.
"""

ALLOWED = (
    # process lifetime, identity and scheduling
    "arch_prctl", "capget", "capset", "execve", "execveat", "exit", "exit_group",
    "fork", "vfork", "wait4", "waitid", "waitpid", "kill", "tkill", "tgkill",
    "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
    "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
    "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
    "setresuid", "setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32",
    "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
    "getpriority", "setpriority", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage",
    "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_yield", "getcpu",
    "ioprio_get", "ioprio_set", "prctl", "seccomp", "set_tid_address", "set_robust_list",
    "get_robust_list", "set_thread_area", "get_thread_area", "modify_ldt", "rseq", "membarrier",
    "pidfd_open", "pidfd_send_signal", "process_mrelease", "restart_syscall", "uname", "sysinfo",
    "getrandom",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    "ptrace", "process_vm_readv", "process_vm_writev", "chroot",
    # signals and timers
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sigaltstack", "sigprocmask", "sigreturn", "signalfd", "signalfd4", "pause", "alarm",
    "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "clock_adjtime", "clock_adjtime64", "adjtimex",
    "gettimeofday", "nanosleep", "time", "times",
    # memory
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
    "mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
    "memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "futex", "futex_time64", "futex_waitv",
    # files and directories
    "open", "openat", "openat2", "creat", "close", "close_range", "read", "readv", "pread64",
    "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
    "lseek", "_llseek", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "ioctl",
    "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
    "statfs", "statfs64", "fstatfs", "fstatfs64", "access", "faccessat", "faccessat2",
    "chdir", "fchdir", "getcwd", "getdents", "getdents64", "umask",
    "mkdir", "mkdirat", "rmdir", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "readlink", "readlinkat",
    "chmod", "fchmod", "fchmodat", "chown", "chown32", "fchown", "fchown32", "fchownat",
    "lchown", "lchown32", "truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate",
    "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fadvise64", "fadvise64_64",
    "readahead", "copy_file_range", "sendfile", "sendfile64", "splice", "tee", "vmsplice",
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr",
    "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64",
    # polling and events
    "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "select", "_newselect",
    "pselect6", "pselect6_time64", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
    "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    # sockets (socket itself has an argument rule)
    "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
    "getsockopt", "setsockopt", "shutdown", "send", "sendto", "sendmsg", "sendmmsg",
    "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "socketcall",
    # System V and POSIX IPC (inside the container's own ipc namespace)
    "ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
)

# personality(2) values Docker allows: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE,
# both together, and 0xffffffff which only queries the current persona.
PERSONALITY_ALLOWED = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)

# clone(2) is allowed only when none of these are in its flags (arg 0 on x86):
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_FLAGS = 0x7E020000

# socket(2) is allowed for every address family but AF_VSOCK, which reaches
# the hypervisor and other VMs rather than the container's network namespace.
SOCKET_DENIED_FAMILY = 40

# clone3 passes its flags in a struct seccomp cannot read, so it cannot get
# clone's flag check; ENOSYS makes glibc fall back to clone.
ENOSYS = ("clone3",)
