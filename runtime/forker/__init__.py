"""Forking shims ahead of need, away from the caller's heap.

`server` is the forker process, `zygote` the process it forks shims from,
`protocol` what forkers and callers say, `client` a caller's own forker,
`shared` the node's forker that CLI commands share.
"""
