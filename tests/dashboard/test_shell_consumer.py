"""The shell WebSocket against a real container: the consumer relays through
Redis to the node agent (running in this process), which owns the PTY."""


import pytest
from channels.db import database_sync_to_async
from shell_helpers import ShellClient, shell_path

from dashboard.shell.models import ShellSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def cookies(session_cookie_for, owner, other_student, teacher):
    """Session cookies by persona, made before the test's event loop runs."""
    return {user.username: session_cookie_for(user) for user in (owner, other_student, teacher)}


async def open_shell(container, cookie, **size):
    client = await ShellClient(shell_path(container, **size), cookie).connect()
    key = await client.session_id()
    return client, key


async def test_input_echoes_back(shell_agent, running_container, cookies):
    client, _ = await open_shell(running_container, cookies["owner"])
    await client.type("echo $((6*7))\n")
    await client.read_until(b"42\r\n")
    await client.type("exit\n")
    assert await client.closed() == 1000


async def test_shell_runs_inside_the_container_on_its_own_devpts(shell_agent, running_container, cookies):
    client, _ = await open_shell(running_container, cookies["owner"])
    await client.type("echo host=$(hostname) tty=$(tty) term=$TERM\n")
    await client.read_until(b"term=xterm-256color\r\n")
    assert b"tty=/dev/pts/" in client.screen
    await client.type("exit\n")
    await client.closed()


async def test_resize_changes_stty_size(shell_agent, running_container, cookies):
    client, _ = await open_shell(running_container, cookies["owner"], rows=30, cols=100)
    await client.type("stty size\n")
    await client.read_until(b"30 100\r\n")
    await client.control(type="resize", rows=40, cols=120)
    await client.type("stty size\n")
    await client.read_until(b"40 120\r\n")
    await client.type("exit\n")
    await client.closed()


async def test_reattach_replays_output_and_finds_the_same_shell(shell_agent, running_container, cookies):
    client, key = await open_shell(running_container, cookies["owner"])
    await client.type("echo marker-$((40+2)) pid=$$\n")
    await client.read_until(b"marker-42 pid=")
    await client.read_until(b"\r\n")
    pid_line = client.screen.split(b"marker-42 pid=")[1].split(b"\r\n")[0]
    await client.disconnect()

    again = await ShellClient(shell_path(running_container, key), cookies["owner"]).connect()
    assert await again.session_id() == key
    await again.read_until(b"marker-42 pid=" + pid_line)
    await again.type("echo now=$$\n")
    await again.read_until(b"now=" + pid_line + b"\r\n")
    await again.type("exit\n")
    await again.closed()


async def test_exit_status_arrives_and_closes_the_audit_row(shell_agent, running_container, cookies):
    client, key = await open_shell(running_container, cookies["owner"])
    await client.type("exit 7\n")
    assert await client.closed() == 1000
    assert {"type": "exit", "code": 7} in client.controls
    row = await database_sync_to_async(ShellSession.objects.get)(key=key)
    assert (row.user_id, row.container_id, row.exit_code) == (running_container.owner_id, running_container.pk, 7)
    assert row.closed_at >= row.opened_at


async def test_reattach_after_exit_reports_the_status(shell_agent, running_container, cookies):
    client, key = await open_shell(running_container, cookies["owner"])
    await client.type("exit 3\n")
    await client.closed()
    again = await ShellClient(shell_path(running_container, key), cookies["owner"]).connect()
    assert await again.closed() == 1000
    assert again.controls == [{"type": "exit", "code": 3}]


async def test_another_students_socket_is_refused_without_a_byte(
    shell_agent, running_container, cookies
):
    client, key = await open_shell(running_container, cookies["owner"])
    for path in (shell_path(running_container), shell_path(running_container, key)):
        intruder = await ShellClient(path, cookies["other_student"]).connect()
        assert await intruder.closed() == 4404
        assert intruder.screen == b"" and intruder.controls == []
    await client.type("exit\n")
    await client.closed()


async def test_anonymous_socket_is_refused(shell_agent, running_container):
    intruder = await ShellClient(shell_path(running_container), None).connect()
    assert await intruder.closed() == 4403
    assert intruder.screen == b"" and intruder.controls == []


async def test_teacher_watches_read_only(shell_agent, running_container, cookies):
    student, key = await open_shell(running_container, cookies["owner"])
    watcher = await ShellClient(shell_path(running_container, key), cookies["teacher"]).connect()
    assert await watcher.session_id() == key
    assert {"type": "session", "id": key, "readonly": True} in watcher.controls
    await watcher.type("echo teacher-typed\n")
    await student.type("echo student-$((1+1))\n")
    await watcher.read_until(b"student-2\r\n")
    await student.read_until(b"student-2\r\n")
    assert b"teacher-typed" not in student.screen
    await student.type("exit 0\n")
    await student.closed()
    assert await watcher.closed() == 1000
    assert {"type": "exit", "code": 0} in watcher.controls


async def test_container_owner_cannot_type_in_the_teachers_shell(
    shell_agent, running_container, cookies
):
    teachers, key = await open_shell(running_container, cookies["teacher"])
    student = await ShellClient(shell_path(running_container, key), cookies["owner"]).connect()
    assert await student.closed() == 4403
    assert student.controls == []
    await teachers.type("exit\n")
    await teachers.closed()


async def test_utf8_split_across_reads_arrives_byte_exact(shell_agent, running_container, cookies):
    client, _ = await open_shell(running_container, cookies["owner"])
    await client.type("printf '\\342\\202'; sleep 0.2; printf '\\254 \\377 done\\n'\n")
    await client.read_until(b"done\r\n")
    assert "€".encode() + b" \xff done" in client.screen
    await client.type("exit\n")
    await client.closed()
