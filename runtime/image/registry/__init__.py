"""Pulling images from registries that speak the OCI distribution protocol.

`reference` parses what a user types (`debian:12`, `host:5000/lab/web:1`,
`...@sha256:...`); `transport` is the HTTP side (connections, proxies,
token auth, one error per failure); `manifests` reads manifests, indexes
and platforms; `pull` fetches and unpacks into the image store through the
same extractor as imports, with `layer_cache` keeping verified layer blobs
for the next image that shares them.
"""
