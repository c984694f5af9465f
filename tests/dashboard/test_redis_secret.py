"""Terrarium's Redis answers only to its secret: whoever reaches the port
without it can neither send tasks to the root worker, nor publish to the
node agent, nor listen to anyone's keystrokes."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def terrarium_redis(web_user):
    """Starts Redis as `make run` does, on a temp state directory; start() may be called again after stop()."""
    state = Path(tempfile.mkdtemp(prefix="terrarium-redis-"))
    port = _free_port()

    class Server:
        proc = None

        def start(self):
            self.proc = subprocess.Popen([REPO / "scripts/redis.sh", state, web_user, str(port)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(100):
                if self.secret() and _answers(port, self.secret()):
                    return self
                time.sleep(0.05)
            raise AssertionError(f"Redis did not start: {self.proc.stderr.read() if self.proc.poll() else ''}")

        def stop(self):
            self.proc.terminate()
            self.proc.wait(timeout=10)

        def secret(self):
            path = state / "redis.secret"
            return path.read_text().strip() if path.exists() else ""

    server = Server()
    server.state, server.port, server.user = state, port, web_user
    yield server
    if server.proc and server.proc.poll() is None:
        server.stop()
    shutil.rmtree(state)


def _answers(port, password) -> bool:
    client = redis.Redis(port=port, password=password, socket_timeout=2)
    try:
        return client.ping()
    except redis.RedisError:
        return False
    finally:
        client.close()


def _raw(port, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command)
        return s.recv(200)


def test_a_client_without_the_secret_is_refused_everything(terrarium_redis):
    server = terrarium_redis.start()
    anonymous = redis.Redis(port=server.port, socket_timeout=5)
    for attempt in (anonymous.ping, lambda: anonymous.publish("node.x", b"open"),
                    lambda: anonymous.lpush("node.x", b"task"), lambda: anonymous.keys("*")):
        with pytest.raises(redis.AuthenticationError):
            attempt()
    anonymous.close()
    for command in (b"PING\r\n", b"PSUBSCRIBE *\r\n", b"PUBLISH node.x open\r\n"):
        assert _raw(server.port, command).startswith(b"-NOAUTH")
    assert _answers(server.port, server.secret())


def test_the_secret_is_for_root_and_the_web_user_and_never_on_a_command_line(terrarium_redis):
    server = terrarium_redis.start()
    secret = server.state / "redis.secret"
    info = secret.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o640, 0)
    assert info.st_gid == int(subprocess.run(["id", "-g", server.user], capture_output=True, text=True).stdout)
    for path in [server.state / "redis", *(server.state / "redis").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
    assert server.secret().encode() not in cmdline


def test_a_second_start_keeps_the_secret(terrarium_redis):
    first = terrarium_redis.start().secret()
    terrarium_redis.stop()
    assert terrarium_redis.start().secret() == first


def test_an_unknown_redis_already_listening_is_not_adopted(terrarium_redis, tmp_path):
    stranger = subprocess.Popen(["redis-server", "--port", str(terrarium_redis.port), "--bind", "127.0.0.1",
                                 "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if _answers(terrarium_redis.port, None):
                break
            time.sleep(0.05)
        result = subprocess.run([REPO / "scripts/redis.sh", terrarium_redis.state, terrarium_redis.user,
                                 str(terrarium_redis.port)], capture_output=True, text=True, timeout=10)
        assert result.returncode == 1 and "will not adopt" in result.stderr
        assert not (terrarium_redis.state / "redis").exists()
    finally:
        stranger.terminate()
        stranger.wait()


def test_the_suites_own_redis_requires_its_secret_too():
    url = urlsplit(settings.REDIS_URL)
    assert url.password
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=url.hostname, port=url.port, socket_timeout=5).ping()


def test_settings_use_the_secret_make_run_keeps(tmp_path):
    (tmp_path / "redis.secret").write_text("s3cret\n")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run([REPO / ".venv/bin/python", "-c", "from django.conf import settings; print(settings.REDIS_URL)"],
                            cwd=REPO, capture_output=True, text=True,
                            env={**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "TERRARIUM_STATE_DIR": str(tmp_path),
                                 "TERRARIUM_REDIS_PORT": "6390"})
    assert result.stdout.strip() == "redis://:s3cret@127.0.0.1:6390/0", result.stderr
