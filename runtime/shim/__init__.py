"""A container's supervisor (the shim) and its clients.

`supervisor` is the shim: it unshares the pid namespace, forks pid 1 and
stays as its parent, holding its terminal and output. `client` is the
launcher's side, `attach` the protocol of attached clients, `logs` the
record of the main process's output.
"""
