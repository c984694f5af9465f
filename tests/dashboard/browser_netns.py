"""Headless Chromium for the browser tests, in a network namespace of its own.

Chromium's NetworkChangeNotifier aborts loads with net::ERR_NETWORK_CHANGED
whenever an address or link of its host changes, and the runtime's worker
makes bridges and veths while a test runs. In a namespace of its own Chromium
sees only its `lo`, which never changes; each forwarded port is a listener on
127.0.0.1 there whose connections are relayed to the same port on the host's
loopback.

Namespaces belong to threads: the holder thread unshares, and the listeners it
makes stay in its namespace wherever they are used. The threads that accept
and relay are started from the host's namespace (a thread starts in its
creator's), so the sockets they connect from are the host's."""

import contextlib
import os
import queue
import socket
import threading
import time
from pathlib import Path

from runtime.isolation import loopback
from runtime.linux import syscalls

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
THREAD_NAME = "browser-netns"
EXIT_SECONDS = 10


class BrowserNamespace:
    """A network namespace with `lo` up, the ports given to forward() relayed
    to the host's loopback, and `executable`: Chromium entering it."""

    def __init__(self, directory: Path):
        self._requests: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._listeners: dict[int, socket.socket] = {}
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._start(self._hold)
        path = self._reply()
        # Held open until close(): the namespace, and so its inode number, outlives
        # its holder and Chromium until the leftovers are counted.
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.inode = os.fstat(self._fd).st_ino
        self.executable = directory / "chromium-in-netns"
        self.executable.write_text(f'#!/bin/sh\nexec nsenter --net={path} {CHROMIUM} "$@"\n')
        self.executable.chmod(0o700)

    def launch(self, playwright):
        return playwright.chromium.launch(executable_path=str(self.executable), args=CHROMIUM_ARGS)

    def forward(self, port: int) -> None:
        """127.0.0.1:port in the namespace leads to 127.0.0.1:port on the host."""
        with self._lock:
            if port in self._listeners:
                return
            self._requests.put(port)
            listener = self._reply()
            self._listeners[port] = listener
        self._start(self._accept, listener, port)

    def close(self) -> list[str]:
        """Stops relaying, waits for every process in the namespace to end, and
        returns what is left: processes in the namespace, threads, sockets."""
        self._requests.put(None)
        deadline = time.monotonic() + EXIT_SECONDS
        while (processes := self._processes()) and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            self._closing = True
            for sock in [*self._listeners.values(), *self._connections]:
                _shut(sock)
        deadline = time.monotonic() + EXIT_SECONDS
        while alive := [t for t in self._threads if t.is_alive()]:
            alive[0].join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                break
        for listener in self._listeners.values():
            listener.close()
        left = [f"process {pid} in the namespace" for pid in processes]
        left += [f"thread {t.name}" for t in self._threads if t.is_alive()]
        left += [f"socket {s}" for s in [*self._connections, *self._listeners.values()] if s.fileno() != -1]
        os.close(self._fd)
        return left

    def _start(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=f"{THREAD_NAME}-{target.__name__}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def _reply(self):
        reply = self._replies.get()
        if isinstance(reply, OSError):
            raise reply
        return reply

    def _hold(self) -> None:
        try:
            syscalls.unshare(syscalls.CLONE_NEWNET)
            loopback.bring_up()
        except OSError as error:
            self._replies.put(error)
            return
        self._replies.put(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/net")
        while (port := self._requests.get()) is not None:
            try:
                self._replies.put(socket.create_server(("127.0.0.1", port)))
            except OSError as error:
                self._replies.put(error)

    def _accept(self, listener: socket.socket, port: int) -> None:
        # close() shuts the listener down, which ends accept() with EINVAL.
        with contextlib.suppress(OSError):
            while True:
                inside, _ = listener.accept()
                self._start(self._relay, inside, port)

    def _relay(self, inside: socket.socket, port: int) -> None:
        with self._lock:
            if self._closing:
                inside.close()
                return
            self._connections.add(inside)
        try:
            host = socket.create_connection(("127.0.0.1", port))
        except OSError:
            self._forget(inside)
            return
        with self._lock:
            self._connections.add(host)
            if self._closing:
                _shut(host)
        back = self._start(self._pipe, host, inside)
        self._pipe(inside, host)
        back.join()
        self._forget(inside, host)

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._connections.discard(sock)
                sock.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            # One end is gone: the other direction ends with it.
            _shut(source)
            _shut(sink)

    def _processes(self) -> list[int]:
        found = []
        for task in Path("/proc").glob("[0-9]*/task/[0-9]*/ns/net"):
            with contextlib.suppress(OSError):
                if os.stat(task).st_ino == self.inode:
                    found.append(int(task.parts[2]))
        return sorted(set(found) - {os.getpid()})


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
