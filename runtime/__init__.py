"""Terrarium's container runtime: image store, isolation, cgroups, lifecycle.

Pure Python, no Django. The dashboard's worker imports this package; the
CLI is ``python -m runtime``.
"""
