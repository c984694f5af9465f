"""Images: importing archives into root filesystems, and the store that keeps them.

`store` is the image store; an import goes `archive` (decompression, limits)
-> `tarstream` (tar headers) -> `unpack` (flat or layered, `layers`) ->
`extract` (safe writes under the new rootfs), bounded by `import_limits`.
"""
