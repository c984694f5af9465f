"""Thin layers over Linux: syscall wrappers, process identity from /proc, confined path walks, directory locks."""
