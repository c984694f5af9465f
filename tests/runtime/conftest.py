"""Fixtures for the runtime tests: `rt`, a Runtime on a private root and
cgroup parent with the busybox image imported, that removes every container
it made and then checks nothing is left (no mount under the root, no live
shim or container process); `cg`, a cgroup driver that removes what it made;
`net_root` and `fake_hosts` for the network tests (see network_testing);
`small_disk`, a 1 MiB tmpfs that fills up."""

import os
import time
from pathlib import Path

import pytest

from cgroup_testing import Tracked
from container_testing import TrackedRuntime, left_running, mounts_under
from network_testing import FakeHost, links, namespaces, nft_tables
from runtime import cgroups
from runtime.forker import shared as shared_forker
from runtime.image.store import ImageStore
from runtime.linux import syscalls
from runtime.network import dns, networks, policy
from runtime.network.store import NetworkStore


@pytest.fixture
def rt(state_root, cgroup_parent, busybox_tar):
    ImageStore(state_root).import_archive(busybox_tar, name="busybox")
    runtime = TrackedRuntime()
    yield runtime
    for state in runtime.list(all=True):
        runtime.delete(state.id, force=True)
    # The CLI's containers came from the node's shared forker for this root: it leaves with the test.
    shared_forker.stop(str(state_root), cgroup_parent)
    assert not mounts_under(state_root), "mounts left under the state root"
    assert not left_running(runtime.seen_pids), "container or shim processes left"
    assert not runtime.list(all=True)


@pytest.fixture
def cg(cgroup_parent):
    tracked = Tracked(cgroups.driver())
    yield tracked
    tracked.cleanup()


@pytest.fixture
def net_root(rt, state_root, monkeypatch):
    """The state root, for tests that make networks; names the networks'
    DNS does not know go to TERRARIUM_DNS_UPSTREAM, by default nowhere
    (the loopback). Afterwards every container is deleted and every network
    pruned, and the test fails if any network, lease, bridge, veth or
    nftables table of the root is left, or its DNS service still runs."""
    monkeypatch.setenv("TERRARIUM_DNS_UPSTREAM", "127.0.0.1")
    before = links()
    root = str(state_root)
    yield root
    for state in rt.list(all=True):
        rt.delete(state.id, force=True)
    networks.prune(root)
    assert not NetworkStore(root).names(), "networks left"
    # A container's veth goes with its network namespace, which the kernel tears down a moment after its exit.
    deadline = time.monotonic() + 10
    while (left := links() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"links left: {left}"
    assert policy.table_name(root) not in nft_tables(), "nftables tables left"
    # It leaves within a second of its last network.
    while dns.running(root) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    assert not dns.running(root), "the DNS service still runs"


@pytest.fixture
def fake_hosts():
    """FakeHost namespaces a test makes with fake_hosts(tag, host_ip, ip);
    removed afterwards, and the test fails if one is left."""
    made = []

    def make(tag, host_ip, address):
        host = FakeHost(f"{tag}{os.getpid() % 10000}", host_ip, address)
        made.append(host)
        return host

    yield make
    for host in made:
        host.remove()
    assert not {h.name for h in made} & namespaces(), "network namespaces left"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a disk that fills up."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    syscalls.mount("tmpfs", mnt, "tmpfs", 0, "size=1m")
    yield mnt
    syscalls.umount2(mnt)
    assert str(mnt) not in Path("/proc/self/mountinfo").read_text()
