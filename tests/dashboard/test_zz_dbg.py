import asyncio, contextlib
import pytest
from shell_helpers import ShellClient, shell_path
from dashboard.shell import agent
pytestmark = [pytest.mark.django_db(transaction=True)]

@pytest.fixture
def cookies(session_cookie_for, owner):
    return {user.username: session_cookie_for(user) for user in (owner,)}

async def test_x(runtime_env, node, running_container, cookies, monkeypatch):
    orig = agent.ShellAgent.serve
    for name in ["on_attach","on_detach","on_open","on_input","on_ack"]:
        f = getattr(agent.ShellAgent, name)
        def wrap(f=f, name=name):
            async def w(self, m):
                print("AGENT", name, {k: (v if not isinstance(v, bytes) else len(v)) for k, v in m.items()}, flush=True)
                return await f(self, m)
            return w
        monkeypatch.setattr(agent.ShellAgent, name, wrap())
    task = asyncio.create_task(agent.run(node.name))
    client = await ShellClient(shell_path(running_container), cookies["owner"]).connect()
    key = await client.session_id()
    await client.type("echo hi\n")
    await client.read_until(b"hi\r\n")
    await client.disconnect()
    print("DISCONNECTED", task.done())
    again = await ShellClient(shell_path(running_container, key), cookies["owner"]).connect()
    print(await again.next_frame(), task.done())
    task.cancel()
