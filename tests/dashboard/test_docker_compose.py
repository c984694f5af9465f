"""docker-compose.yml, checked by parsing it (no Docker engine runs here):
Redis, an unprivileged web server, a privileged worker and agent with the
cgroup filesystem and the state directory, PostgreSQL behind a profile."""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def mounts(service) -> dict[str, str]:
    return dict(volume.split(":")[1::-1] for volume in service.get("volumes", []))


def test_it_defines_redis_web_worker_agent_and_optional_postgres(compose):
    assert set(compose["services"]) == {"redis", "web", "worker", "agent", "postgres"}
    assert compose["services"]["postgres"]["profiles"] == ["postgres"]
    assert all("profiles" not in s for name, s in compose["services"].items() if name != "postgres")


def test_every_service_has_an_image_or_a_build_that_exists(compose):
    for name, service in compose["services"].items():
        assert service.get("image") or service.get("build"), name
        if "build" in service:
            assert (REPO / service["build"] / "Dockerfile").is_file(), name


def test_the_web_server_runs_unprivileged(compose):
    web = compose["services"]["web"]
    assert not web.get("privileged")
    assert web["user"].split(":")[0] not in ("0", "root")
    assert "dashboard.webserver" in web["command"]
    assert mounts(web)["/state"] == "state"


@pytest.mark.parametrize("name", ["worker", "agent"])
def test_the_worker_and_agent_are_privileged_with_cgroups_and_state(compose, name):
    service = compose["services"][name]
    assert service["privileged"] is True
    volumes = mounts(service)
    assert volumes["/sys/fs/cgroup"] == "/sys/fs/cgroup"
    assert volumes["/var/lib/terrarium"] == "runtime"
    assert volumes["/state"] == "state"
    assert service["environment"]["TERRARIUM_ROOT"] == "/var/lib/terrarium"


def test_the_worker_consumes_its_nodes_queue(compose):
    command = " ".join(compose["services"]["worker"]["command"])
    # `$$` is Compose's escape: the shell in the container expands NODE_NAME.
    assert "celery -A dashboard worker -Q node.$${NODE_NAME}" in command


def test_every_app_process_shares_redis_and_the_database(compose):
    for name in ["web", "worker", "agent"]:
        env = compose["services"][name]["environment"]
        assert env["REDIS_URL"] == "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0"
        assert env["DATABASE_URL"].startswith("${DATABASE_URL:-")


def test_redis_answers_only_to_the_password(compose):
    redis = compose["services"]["redis"]
    assert '--requirepass "$$REDIS_PASSWORD"' in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")


def test_named_volumes_are_declared(compose):
    assert {"state", "runtime", "redis", "postgres"} <= set(compose["volumes"])


def test_the_agent_shares_the_workers_network_where_containers_networks_live(compose):
    agent, worker = compose["services"]["agent"], compose["services"]["worker"]
    assert agent["network_mode"] == "service:worker"
    assert "ports" not in agent
    assert "127.0.0.1:8001:8001" in worker["ports"]
    assert agent["environment"]["TERRARIUM_APPS_BIND"] == "0.0.0.0"
    assert agent["environment"]["REDIS_URL"] == worker["environment"]["REDIS_URL"]
