"""Helpers for the cgroup driver tests: a driver that cleans up after
itself, and processes started inside a cgroup. The `cg` fixture is in
conftest.py."""

import os
import signal
import subprocess
import sys


from runtime import cgroups
from runtime.errors import NotFound

HOST_VERSION = cgroups.detect()


class Tracked:
    """A driver that remembers the cgroups it made and kills and removes them at the end."""

    def __init__(self, driver):
        self.driver = driver
        self.names = []
        self.children = []

    def create(self, name, limits=None):
        self.names.append(name)
        self.driver.create(name, limits or cgroups.Limits())
        return name

    def start(self, name, code, **popen_args):
        """Run python code in a new process that joins cgroup name before the code runs."""
        gate = "import os; os.read(0, 1)\n"
        gate_read, gate_write = os.pipe()
        try:
            proc = subprocess.Popen([sys.executable, "-c", gate + code], stdin=gate_read, **popen_args)
        finally:
            os.close(gate_read)
        try:
            self.children.append(proc)
            self.driver.attach(name, proc.pid)
            os.write(gate_write, b"g")
        finally:
            os.close(gate_write)
        return proc

    def cleanup(self):
        for name in self.names:
            if _exists(self.driver, name):
                self.driver.kill_all(name, signal.SIGKILL)
        for proc in self.children:
            proc.kill()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        for name in self.names:
            self.driver.destroy(name)


def _exists(driver, name):
    try:
        driver.procs(name)
    except NotFound:
        return False
    return True
