"""Terrarium's container runtime: image store, isolation, cgroups, lifecycle.

Pure Python, no Django. The dashboard's worker imports this package; the
CLI is ``python -m runtime``.

The names below are its public face. They load on first use, not with the
package: `python -m runtime run` imports only what starting a container needs.
"""

from runtime.errors import Conflict, ImportFailed, InvalidArgument, NotFound, NotPermitted, TerrariumError

_LAZY = {
    "CheckResult": "runtime.isolation.check",
    "Runtime": "runtime.lifecycle",
    "ContainerConfig": "runtime.config",
    "ImageStore": "runtime.image.store",
    "ImportLimits": "runtime.image.store",
    "ResourceLimits": "runtime.resources",
    "check_name": "runtime.config",
    "export_image": "runtime.image.export",
    "networks": "runtime.network",
    "parse_reference": "runtime.image.registry.reference",
    "parse_limits": "runtime.resources",
    "parse_platform": "runtime.image.registry.manifests",
    "parse_size": "runtime.resources",
}

__all__ = [
    "CheckResult",
    "Conflict",
    "ContainerConfig",
    "ImageStore",
    "ImportFailed",
    "ImportLimits",
    "InvalidArgument",
    "NotFound",
    "NotPermitted",
    "ResourceLimits",
    "Runtime",
    "TerrariumError",
    "check_name",
    "export_image",
    "networks",
    "parse_limits",
    "parse_platform",
    "parse_reference",
    "parse_size",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    # __import__, not importlib: importing importlib would cost every CLI start.
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value
    return value
