"""`python -m runtime network ...` and `run --network`: the networks'
command line, its records and its one-line errors."""

import json
import subprocess
import sys

from runtime.network.store import NetworkStore


def cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=60)


def test_create_ls_inspect_update_and_rm_a_network(rt, net_root):
    made = cli("network", "create", "lab", "--subnet", "10.123.4.0/24", "--egress", "none", "--no-icc")
    assert made.returncode == 0, made.stderr
    listed = json.loads(cli("network", "ls", "--json").stdout)
    assert [(n["name"], n["subnet"], n["egress"], n["icc"]) for n in listed] == [("lab", "10.123.4.0/24", "none", False)]
    shown = json.loads(cli("network", "inspect", "lab").stdout)
    assert shown["gateway"] == "10.123.4.1" and shown["bridge_up"] and shown["containers"] == {}
    assert cli("network", "update", "lab", "--egress", "open").returncode == 0
    assert NetworkStore(net_root).get("lab").egress == "open"
    assert cli("network", "rm", "lab").stdout == "lab\n"
    assert NetworkStore(net_root).names() == []


def test_run_on_a_network_with_an_alias_and_inspect_shows_it(rt, net_root):
    assert cli("network", "create", "lab").returncode == 0
    started = cli("run", "-d", "--name", "web", "--network", "lab", "--network-alias", "www", "busybox", "sleep", "60")
    assert started.returncode == 0, started.stderr
    record = json.loads(cli("inspect", "web").stdout)
    shown = record["network"]
    assert shown["name"] == "lab" and shown["aliases"] == ["www"] and shown["ports"] == []
    assert NetworkStore(net_root).leases("lab") == {shown["ip"]: record["id"]}


def test_prune_removes_networks_without_containers(rt, net_root):
    for name in ("idle", "busy"):
        assert cli("network", "create", name).returncode == 0
    assert cli("run", "-d", "--network", "busy", "busybox", "sleep", "60").returncode == 0
    assert cli("network", "prune").stdout == "idle\n"
    assert NetworkStore(net_root).names() == ["busy"]


def test_bad_network_input_gets_one_error_line_and_changes_nothing(rt, net_root):
    assert cli("network", "create", "lab", "--subnet", "10.124.0.0/24").returncode == 0
    for args, message in (
        (("network", "create", "lab"), "error: network lab already exists\n"),
        (("network", "create", "other", "--subnet", "10.124.0.128/25"), "error: subnet 10.124.0.128/25 overlaps network lab's 10.124.0.0/24\n"),
        (("network", "create", "big", "--subnet", "10.0.0.0/16"), "error: invalid subnet 10.0.0.0/16: its prefix must be /20 to /29\n"),
        (("network", "create", "bad", "--subnet", "banana"), "error: invalid subnet 'banana': use an IPv4 CIDR such as 10.89.0.0/24\n"),
        (("network", "create", "none"), "error: invalid network name 'none': use letters, digits, '_', '.' and '-', starting with a letter or digit, 63 at most (not none or host)\n"),
        (("network", "rm", "nothing"), "error: no such network: nothing\n"),
        (("run", "--network", "nothing", "busybox", "true"), "error: no such network: nothing\n"),
        (("run", "--network-alias", "www", "busybox", "true"), "error: network aliases need a network: add --network\n"),
    ):
        done = cli(*args)
        assert (done.returncode, done.stderr) == (1, message), args
    assert NetworkStore(net_root).names() == ["lab"]
    assert rt.list(all=True) == []


def test_run_help_says_no_network_is_the_default_and_names_dns():
    shown = " ".join(cli("run", "--help").stdout.split())
    assert "none (the default: lo only, stricter than Docker's bridge)" in shown
    assert "--dns IP" in shown
