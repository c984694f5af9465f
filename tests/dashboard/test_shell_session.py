"""The node-side PTY session manager against a plain local PTY process:
fan-out, replay, flow control, exit and the grace period."""

import asyncio
import os
import pty
import signal
import subprocess
import termios
import struct
import fcntl


from dashboard.shell import session as session_module
from dashboard.shell.session import PtySession
from dashboard.shell.wire import RESET, REPLAY_BYTES, WINDOW_BYTES


class LocalShell:
    """A local process on a PTY, shaped like runtime's ExecSession."""

    def __init__(self, argv, rows=24, cols=80):
        self.fd, slave = pty.openpty()
        self.resize(rows, cols)
        self._proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.pid = self._proc.pid

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self):
        return self._proc.wait()

    def kill(self, sig=signal.SIGKILL):
        if self._proc.returncode is None:
            os.kill(self.pid, sig)

    def close(self):
        os.close(self.fd)


class Browser:
    """Collects what the session sends, per channel, and acks on demand."""

    def __init__(self):
        self.inbox: dict[str, asyncio.Queue] = {}
        self.ended = asyncio.Event()
        self.end_code = None

    async def send(self, channel, message):
        self.inbox.setdefault(channel, asyncio.Queue()).put_nowait(message)

    async def on_end(self, key, code):
        self.end_code = code
        self.ended.set()

    async def read_until(self, channel, needle: bytes, session=None, ack=True):
        seen = b""
        while needle not in seen:
            message = await asyncio.wait_for(self.inbox.setdefault(channel, asyncio.Queue()).get(), 10)
            data = message.get("data") or message.get("replay") or b""
            seen += data
            if ack and session is not None and "end" in message:
                session.ack(channel, message["end"])
        return seen


async def until(condition, timeout=10):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def start(argv, browser, grace=600):
    return PtySession("k" * 16, LocalShell(argv), send=browser.send, on_end=browser.on_end, grace_seconds=grace)


async def test_input_echoes_to_every_viewer_and_reattach_replays():
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("student", readonly=False)
    session.attach("teacher", readonly=True)
    session.write(b"echo $((6*7))\n")
    await browser.read_until("student", b"42", session)
    await browser.read_until("teacher", b"42", session)
    session.detach("student")
    session.attach("student-again", readonly=False)
    replay = await browser.read_until("student-again", b"42", session)
    assert b"echo $((6*7))" in replay
    session.write(b"exit 3\n")
    await asyncio.wait_for(browser.ended.wait(), 10)
    assert browser.end_code == 3


async def test_readonly_viewer_cannot_write():
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("teacher", readonly=True)
    assert not session.can_write("teacher")
    session.attach("student", readonly=False)
    assert session.can_write("student")
    session.terminate()
    await asyncio.wait_for(browser.ended.wait(), 10)


async def test_flood_pauses_reading_until_the_viewer_acks_and_ctrl_c_stops_it():
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("slow", readonly=False)
    session.write(b"yes\n")
    queue = browser.inbox.setdefault("slow", asyncio.Queue())
    received = 0
    while not session.viewers["slow"].full:
        received += len((await asyncio.wait_for(queue.get(), 10)).get("data") or b"")
    await until(lambda: not session._reading)
    assert session.viewers["slow"].unacked <= WINDOW_BYTES + 64 * 1024
    session.write(b"\x03")
    session.ack("slow", session.viewers["slow"].sent_total)
    assert session._reading
    session.write(b"echo flood-over\n")
    await browser.read_until("slow", b"flood-over\r\n", session)
    session.write(b"exit\n")
    await asyncio.wait_for(browser.ended.wait(), 10)


async def test_detached_session_keeps_running_with_bounded_replay():
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("tab", readonly=False)
    session.write(b"head -c 600000 /dev/zero | tr '\\0' x; echo; echo done-printing\n")
    session.detach("tab")
    await until(lambda: b"done-printing" in session._ring.snapshot())
    session.attach("tab2", readonly=False)
    replay = (await asyncio.wait_for(browser.inbox.setdefault("tab2", asyncio.Queue()).get(), 10))["replay"]
    assert len(replay) <= REPLAY_BYTES
    assert b"done-printing" in replay
    session.terminate()
    await asyncio.wait_for(browser.ended.wait(), 10)


async def test_grace_period_ends_a_shell_nobody_attaches_to():
    browser = Browser()
    session = start(["/bin/sh"], browser, grace=0.2)
    session.attach("tab", readonly=False)
    session.detach("tab")
    await asyncio.wait_for(browser.ended.wait(), 10)
    assert browser.end_code != 0


async def test_a_flood_of_short_lines_travels_in_few_frames():
    # busybox's `yes | head` writes a few bytes at a time, as a container's
    # would: read by read, that is about a thousand frames (900 to 2250 seen);
    # coalesced, about 150. The bound sits between, far from both.
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("tab", readonly=False)
    session.write(b"stty -echo; echo start-$((1+1))\n")
    await browser.read_until("tab", b"start-2", session)
    session.write(b"busybox yes | busybox head -c 300000; echo done-$((2+3))\n")
    queue = browser.inbox["tab"]
    frames, seen = 0, b""
    while b"done-5" not in seen:
        message = await asyncio.wait_for(queue.get(), 10)
        frames += 1
        seen = seen[-16:] + message["data"]
        session.ack("tab", message["end"])
    lines = 150_000
    print(f"{lines} lines in {frames} frames")
    assert frames <= lines // 300
    session.terminate()
    await asyncio.wait_for(browser.ended.wait(), 10)


async def test_a_frozen_writer_is_skipped_without_a_replay_at_every_probe(monkeypatch):
    monkeypatch.setattr(session_module, "PROBE_SECONDS", 0.05)
    monkeypatch.setattr(session_module, "STALL_SECONDS", 0.2)
    browser = Browser()
    session = start(["/bin/sh"], browser)
    session.attach("frozen", readonly=False)
    session.write(b"echo hello\n")
    await browser.read_until("frozen", b"hello", ack=False)
    await until(lambda: session.viewers["frozen"].behind)
    queue = browser.inbox["frozen"]
    probes = 0
    while probes < 10:
        message = await asyncio.wait_for(queue.get(), 10)
        if message["type"] == "shell.probe":
            probes += 1
            # What the consumer answers for a tab that shows nothing new.
            viewer = session.viewers["frozen"]
            session.ack("frozen", viewer.acked_total, received=viewer.sent_total)
        else:
            assert not message.get("data", b"").startswith(RESET), "replayed to a frozen tab"
    session.terminate()
    await asyncio.wait_for(browser.ended.wait(), 10)
