"""An image's `USER name[:group]` and `--user name[:group]`, resolved from
the container's own /etc/passwd and /etc/group for run and exec."""

import os
import subprocess
import sys

import pytest

from image_archives import E, docker_save, tar_bytes

from runtime.config import ContainerConfig
from runtime.errors import TerrariumError
from runtime.image.store import ImageStore

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1002:Alice:/home/alice:/bin/sh\nbob:x:1003:1003::/:/bin/sh\n"
GROUP = b"root:x:0:\nstaff:x:1002:\nwheel:x:10:alice,bob\naudio:x:29:alice\nbob:x:1003:\n"
ID = ["sh", "-c", "echo $(id -u) $(id -g) / $(id -G)"]


def import_image(state_root, tmp_path, busybox_tar, name, entries, user):
    layers = [busybox_tar.read_bytes(), tar_bytes(entries)]
    archive = tmp_path / f"{name}.tar"
    archive.write_bytes(docker_save(layers, config={"Cmd": ["sleep", "600"], "User": user}))
    ImageStore(state_root).import_archive(archive, name=name)


@pytest.fixture
def named(rt, state_root, tmp_path, busybox_tar):
    """An image whose USER is alice, with its own users and groups."""
    import_image(state_root, tmp_path, busybox_tar, "named",
                 [E("etc/passwd", data=PASSWD), E("etc/group", data=GROUP)], "alice")
    return "named"


def output(rt, state) -> str:
    state = rt.wait(state.id)
    return b"".join(entry["data"] for entry in rt.logs(state.id)).decode().strip()


def read_all(fd) -> str:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data.decode().strip()


def exec_id(rt, state, **options) -> str:
    sess = rt.exec(state.id, ID, **options)
    out = read_all(sess.stdout)
    assert sess.wait() == 0
    sess.close()
    return out


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, timeout=60)


def test_the_images_named_user_is_applied_with_its_groups(rt, named):
    assert output(rt, rt.run(ContainerConfig(image=named, command=ID))) == "1001 1002 / 1002 10 29"


def test_the_images_named_user_is_the_one_exec_runs_as(rt, named):
    sleeper = rt.run(ContainerConfig(image=named))
    assert exec_id(rt, sleeper) == "1001 1002 / 1002 10 29"
    assert exec_id(rt, sleeper, user="bob:staff") == "1003 1002 / 1002"


def test_a_user_and_group_by_name_from_the_cli(rt, named):
    run = cli("run", "--rm", "--user", "bob:audio", named, *ID)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode().strip() == "1003 29 / 29"
    sleeper = rt.run(ContainerConfig(image=named))
    exec_ = cli("exec", "--user", "bob", sleeper.id, *ID)
    assert exec_.returncode == 0, exec_.stderr
    assert exec_.stdout.decode().strip() == "1003 1003 / 1003 10"


def test_numbers_keep_working_without_an_entry(rt, named):
    assert output(rt, rt.run(ContainerConfig(image=named, command=ID, user="4000"))) == "4000 4000 / 4000"
    assert output(rt, rt.run(ContainerConfig(image=named, command=ID, user="4000:audio"))) == "4000 29 / 29"


def test_a_missing_user_or_group_is_one_clear_error_at_launch_and_at_exec(rt, named):
    with pytest.raises(TerrariumError, match="unable to find user mallory"):
        rt.run(ContainerConfig(image=named, command=ID, user="mallory"))
    with pytest.raises(TerrariumError, match="unable to find group nogroup"):
        rt.run(ContainerConfig(image=named, command=ID, user="alice:nogroup"))
    sleeper = rt.run(ContainerConfig(image=named))
    with pytest.raises(TerrariumError, match="unable to find user mallory"):
        rt.exec(sleeper.id, ID, user="mallory")


def test_a_passwd_symlinked_to_etc_shadow_reads_the_containers_file_not_the_hosts(rt, state_root, tmp_path,
                                                                                  busybox_tar):
    # Whatever the host's /etc/shadow holds for root, the container's has only `probe`.
    entries = [E("etc/passwd", kind="symlink", link="/etc/shadow"),
               E("etc/shadow", data=b"probe:x:4242:4243::/:/bin/sh\n"), E("etc/group", data=GROUP)]
    import_image(state_root, tmp_path, busybox_tar, "linked", entries, "probe")
    assert output(rt, rt.run(ContainerConfig(image="linked", command=ID))) == "4242 4243 / 4243"
    with pytest.raises(TerrariumError, match="unable to find user root"):
        rt.run(ContainerConfig(image="linked", command=ID, user="root"))

