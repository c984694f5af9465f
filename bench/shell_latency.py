"""Browser shell figures through the whole path: WebSocket client -> Daphne
-> Redis channel layer -> node agent -> PTY in a real container -> back.

- keystroke round trip (one byte to `cat` under `stty raw -echo` and back),
  p50 and p99, while BUSY other shells each print a line every 50 ms;
- bulk output: MB/s of 64 MiB printed by the container under `stty raw`,
  read by a client that acknowledges as it goes;
- ordinary output in the default (cooked) terminal mode: `yes | head -c 5M`
  and `cat` of a 5 MB text file, MB/s of what the terminal shows;
- the floor: the same keystroke round trip and the same cooked-mode
  commands on a bare host PTY, same run.

Targets: p50 <= 5 ms, p99 <= 25 ms with 20 busy shells, bulk >= 20 MB/s,
cooked output >= 0.5x the bare PTY's.
Needs root; everything is removed at the end (bench/dashboard_stack.py)."""

import asyncio
import base64
import json
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import PYTHON, REPO, Session, stack  # noqa: E402

sys.path.insert(0, str(REPO))
from runtime.image.busybox import BUSYBOX  # noqa: E402

BUSY = int(os.environ.get("BENCH_BUSY_SHELLS", 20))
KEYSTROKES = int(os.environ.get("BENCH_KEYSTROKES", 400))
BULK_BYTES = 64 << 20
COOKED_BYTES = 5 << 20
# `seq 1 N` prints about COOKED_BYTES of short lines.
TEXT_LINES = 780_000
COOKED = {
    "yes | head -c 5M": f"yes | head -c {COOKED_BYTES}",
    "cat of a text file": "cat {text}",
}
# Bounds on a wedged path, so the run always ends by itself.
MAX_LOST = 10
MEASURE_SECONDS = 300


class Socket:
    """A minimal WebSocket client (binary and text frames, acks like the page's)."""

    @classmethod
    async def open(cls, port: int, path: str, cookie: str):
        self = cls()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: sessionid={cookie}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit(f"websocket refused: {head!r}")
        return self

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        if n >= 1 << 16:
            size = bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode]) + size + mask + masked)

    def _ack(self, n: int) -> None:
        """As the page does: at once past 128 KiB, otherwise within 200 ms."""
        self.pending = getattr(self, "pending", 0) + n
        if self.pending >= 128 * 1024:
            self._flush_ack()
        elif getattr(self, "timer", None) is None:
            self.timer = asyncio.get_running_loop().call_later(0.2, self._flush_ack)

    def _flush_ack(self) -> None:
        if getattr(self, "timer", None) is not None:
            self.timer.cancel()
        self.timer = None
        if self.pending and not self.writer.is_closing():
            self.send_json({"type": "ack", "bytes": self.pending})
        self.pending = 0

    def send_bytes(self, data: bytes) -> None:
        self._send(0x2, data)

    def send_json(self, message: dict) -> None:
        self._send(0x1, json.dumps(message).encode())

    async def frame(self):
        """(is_binary, payload); binary frames are acknowledged on arrival."""
        while True:
            head = await self.reader.readexactly(2)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(length)
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("closed by the server")
            elif opcode == 0x2:
                self._ack(len(payload))
                return True, payload
            elif opcode == 0x1:
                return False, json.loads(payload)

    async def until(self, needle: bytes) -> bytes:
        """The stream from needle on, to the end of the frame holding it."""
        seen = b""
        while True:
            binary, payload = await self.frame()
            if binary:
                # Searched before anything is dropped: a frame may hold the
                # needle and then a quarter MiB more.
                seen += payload
                at = seen.find(needle)
                if at >= 0:
                    return seen[at:]
                seen = seen[-(len(needle) - 1) :] if len(needle) > 1 else b""

    async def session(self) -> str:
        while True:
            binary, payload = await self.frame()
            if not binary and payload.get("type") == "session":
                return payload["id"]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def keystrokes(sock: Socket) -> list[float]:
    sock.send_bytes(b"stty raw -echo; cat\n")
    await asyncio.sleep(0.5)
    times, lost = [], 0
    for i in range(KEYSTROKES):
        if lost >= MAX_LOST:
            break
        key = bytes([97 + i % 26])
        start = time.perf_counter()
        sock.send_bytes(key)
        try:
            await asyncio.wait_for(sock.until(key), 2)
            times.append(time.perf_counter() - start)
        except TimeoutError:
            lost += 1
        await asyncio.sleep(0.005)
    sock.send_bytes(b"\x03")
    return times, lost


async def bulk(sock: Socket) -> float:
    # Markers the shell makes: the echo of the command line does not hold them.
    sock.send_bytes(b"stty raw -echo; echo go-$((1+1)); head -c %d /dev/zero; echo; echo bulk-$((2+3))\n" % BULK_BYTES)
    rest = await sock.until(b"go-2")
    start = time.perf_counter()
    received = len(rest)
    tail = rest[-64:]
    while b"bulk-5" not in tail:
        binary, payload = await sock.frame()
        if binary:
            received += len(payload)
            tail = (tail + payload)[-64:]
    return received / (time.perf_counter() - start) / 1e6


async def cooked(sock: Socket, command: str) -> tuple[float, int, float]:
    """MB/s of a command's output in the terminal's default mode, the frames
    it took and their median size. The
    markers are made by the shell, so the echo of the command line does not
    match them."""
    sock.send_bytes(b"echo start-$((1+1)); %s; echo done-$((2+3))\n" % command.encode())
    rest = await sock.until(b"start-2")
    start = time.perf_counter()
    received = len(rest)
    tail = rest[-64:]
    sizes = []
    while b"done-5" not in tail:
        binary, payload = await sock.frame()
        if binary:
            received += len(payload)
            sizes.append(len(payload))
            tail = (tail + payload)[-64:]
    return received / (time.perf_counter() - start) / 1e6, len(sizes), statistics.median(sizes)


async def busy(sock: Socket) -> None:
    sock.send_bytes(b"while true; do date; usleep 50000; done\n")
    while True:
        await sock.frame()


def bare_pty_cooked(shell: list[str], command: str) -> float:
    """The command on a bare host PTY (cooked, as a login's): MB/s read from its master."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(shell[0], [*shell, "-c", command])
    start = time.perf_counter()
    received = 0
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        received += len(data)
    elapsed = time.perf_counter() - start
    os.waitpid(pid, 0)
    os.close(fd)
    return received / elapsed / 1e6


def bare_pty_floor() -> list[float]:
    pid, fd = pty.fork()
    if pid == 0:
        tty.setraw(0)
        os.execvp("cat", ["cat"])
    time.sleep(0.2)
    times = []
    for i in range(KEYSTROKES):
        key = bytes([97 + i % 26])
        start = time.perf_counter()
        os.write(fd, key)
        got = b""
        while key not in got:
            select.select([fd], [], [])
            got += os.read(fd, 1024)
        times.append(time.perf_counter() - start)
        time.sleep(0.005)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(fd)
    return times


async def phase(name: str, coro, seconds: float = 120):
    try:
        return await asyncio.wait_for(coro, seconds)
    except TimeoutError:
        raise SystemExit(f"{name}: no result within {seconds} s: the shell path is wedged") from None


async def measure(port: int, container_id: int, cookie: str):
    path = f"/ws/containers/{container_id}/shell/?rows=40&cols=120"
    busy_sockets = [await Socket.open(port, path, cookie) for _ in range(BUSY)]
    for sock in busy_sockets:
        await sock.session()
    busy_tasks = [asyncio.create_task(busy(sock)) for sock in busy_sockets]
    await asyncio.sleep(1)
    typist = await Socket.open(port, path, cookie)
    await typist.session()
    rtt, lost = await keystrokes(typist)
    bulk_sock = await Socket.open(port, path, cookie)
    await bulk_sock.session()
    rate = await phase("bulk output", bulk(bulk_sock))
    bulk_sock.send_bytes(b"stty sane; seq 1 %d > /tmp/lines\n" % TEXT_LINES)
    await asyncio.sleep(1)
    ordinary = {}
    for name, command in COOKED.items():
        ordinary[name] = await phase(name, cooked(bulk_sock, command.format(text="/tmp/lines")))
    for task in busy_tasks:
        task.cancel()
    for sock in [*busy_sockets, typist, bulk_sock]:
        sock.writer.close()
    return rtt, lost, rate, ordinary


def main() -> None:
    # The bench's teacher opens BUSY + 2 shells: more than a teacher's default.
    os.environ["SHELL_MAX_PER_USER"] = str(BUSY + 2)
    floor = bare_pty_floor()
    text = Path(tempfile.mkdtemp(prefix="shellbench-")) / "lines"
    text.write_bytes(subprocess.run(["seq", "1", str(TEXT_LINES)], capture_output=True, check=True).stdout)
    try:
        # The container's programs are the image's busybox (runtime.image.busybox):
        # the same binary on the bare PTY is the floor; the host's own tools for scale.
        bare = {name: bare_pty_cooked([BUSYBOX, "sh"], command.format(text=text)) for name, command in COOKED.items()}
        host = {name: bare_pty_cooked(["sh"], command.format(text=text)) for name, command in COOKED.items()}
    finally:
        shutil.rmtree(text.parent)
    with stack(worker=False) as s:
        from django.conf import settings

        from dashboard.containers.models import Container
        from dashboard.containers.node import container_launch_on_node

        container = Container.objects.create(
            owner=s.user, image=s.image, node=s.node, name="shellbench", command=["sleep", "3600"]
        )
        container_launch_on_node(container_id=container.id)
        agent = subprocess.Popen(
            [PYTHON, "manage.py", "node_agent", "--node", settings.NODE_NAME],
            cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            web = Session(s.url, "bench", s.password)
            cookie = next(c.value for c in web.jar if c.name == "sessionid")
            port = int(s.url.rsplit(":", 1)[1])
            try:
                rtt, lost, rate, ordinary = asyncio.run(asyncio.wait_for(measure(port, container.id, cookie), MEASURE_SECONDS))
            except TimeoutError:
                raise SystemExit(f"no result within {MEASURE_SECONDS} s: the shell path is wedged") from None
        finally:
            agent.terminate()
            agent.wait()
    ms = lambda v: v * 1000  # noqa: E731
    p50, p99 = ms(statistics.median(rtt)), ms(percentile(rtt, 0.99))
    f50, f99 = ms(statistics.median(floor)), ms(percentile(floor, 0.99))
    if not rtt:
        raise SystemExit(f"no keystroke echoed ({lost} lost): the shell path is wedged")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"keystroke round trip, {BUSY} busy shells open, {len(rtt)} keys ({lost} not echoed within 2 s), load {load}:")
    print(f"  full path   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (targets 5 / 25 ms)")
    print(f"  bare PTY    p50 {f50:7.3f} ms   p99 {f99:7.3f} ms   (floor)")
    print(f"  ratio       p50 {p50 / f50:7.1f} x    p99 {p99 / f99:7.1f} x")
    print(f"bulk output: {rate:.1f} MB/s over {BULK_BYTES >> 20} MiB   (target 20 MB/s)")
    print("cooked-mode output, MB/s shown (target >= 0.5x the bare PTY running the same busybox):")
    for name, (value, frames, median) in ordinary.items():
        print(f"  {name:20s} full path {value:6.2f}   bare PTY {bare[name]:6.2f}   ratio {value / bare[name]:5.2f} x"
              f"   (host's own tools on a bare PTY {host[name]:6.2f}); {frames} frames, median {median:.0f} bytes")


if __name__ == "__main__":
    main()
