"""Everything between fork and execve inside a container.

`container_init` is the container's pid 1 and lists the steps in order:
namespaces, `filesystem` (/proc, /sys, /dev, pivot_root), `overlay` and
`layerdisk` (the writable layer), `capabilities`, `seccomp`, `users`, then
execve. `exec` is the same hand-over for a process that joins a running
container; `plan` is what pid 1 is told, `terminal` its pseudo-terminals.
"""
