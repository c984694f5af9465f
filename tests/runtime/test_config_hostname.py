"""A container's default hostname comes from its name (runtime.config.hostname_from_name)."""

import pytest

from runtime.config import check_hostname, hostname_from_name


@pytest.mark.parametrize("name, hostname", [
    ("web", "web"), ("lab_3.alice", "lab-3-alice"), ("-edge-", "edge"), ("héllo", "h-llo"),
    ("___", "container"), ("a" * 80, "a" * 63),
])
def test_a_name_becomes_a_valid_hostname(name, hostname):
    assert hostname_from_name(name) == hostname
    assert check_hostname(hostname_from_name(name)) == hostname
