"""`images pull` against a Distribution registry on 127.0.0.1 that each test
starts and fills itself (docker-registry, pushes of blobs and manifests
built here): references by tag and digest, manifest lists and OCI indexes,
token auth, digests checked, failures that leave nothing, layers shared
between images fetched once, hostile layers refused as imports refuse them,
and a container running from what was pulled."""

import gzip
import json
import os
import subprocess
import sys

import pytest

from image_archives import E, tar_bytes, tree
from registry_testing import Proxy, Registry, TokenIssuer, TokenServer, sha
from runtime import parse_reference
from runtime.config import ContainerConfig
from runtime.errors import Conflict, ImportFailed, InvalidArgument, NotFound, NotPermitted
from runtime.image.registry.transport import Transport
from runtime.image.store import ImageStore

TEACHER = ("teacher", "correct horse")


@pytest.fixture
def registry():
    started = Registry()
    yield started
    started.stop()
    assert not started.dir.exists()


@pytest.fixture
def token_registry(tmp_path):
    tokens = TokenServer(TokenIssuer(tmp_path), {TEACHER[0]: TEACHER[1]})
    started = Registry(tokens)
    yield started
    started.stop()
    tokens.stop()


def _proxy(monkeypatch, **options):
    for name in ("http_proxy", "https_proxy", "no_proxy", "NO_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    proxy = Proxy(**options)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    return proxy


@pytest.fixture
def proxy(monkeypatch):
    started = _proxy(monkeypatch)
    yield started
    started.stop()


@pytest.fixture
def store(state_root):
    return ImageStore(state_root)


def layer(*entries, compress=True) -> bytes:
    data = tar_bytes(list(entries))
    return gzip.compress(data, mtime=0) if compress else data


def leftovers(store) -> list[str]:
    """What a failed pull left in the store: anything but the lock and the (empty) layer cache."""
    names = sorted(set(os.listdir(store.images)) - {".lock", ".layers"})
    cache = f"{store.images}/.layers"
    return names + (sorted(os.listdir(cache)) if os.path.isdir(cache) else [])


def blob_requests(proxy) -> list[str]:
    return [r for r in proxy.requests if "/blobs/" in r]


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_pull_by_tag_unpacks_the_layers_and_records_the_digest(registry, store, docker):
    base = layer(E("etc", "dir"), E("etc/motd", data=b"base\n"), E("etc/gone", data=b"x"))
    top = layer(E("etc/motd", data=b"top\n"), E("etc/.wh.gone"), E("srv", "dir"), E("srv/app", data=b"app", mode=0o755))
    config = {"Env": ["A=1"], "Cmd": ["/srv/app"], "WorkingDir": "/srv", "User": "1000"}
    digest = registry.push_image("lab/web", "1", [base, top], config=config, docker=docker)

    info = store.pull(f"{registry.netloc}/lab/web:1", name="web")

    got = tree(info.rootfs)
    assert got[b"etc/motd"][-1] == b"top\n" and got[b"srv/app"][3] == 0o755
    assert b"etc/gone" not in got
    assert info.format == "registry" and info.compression == "gzip"
    assert info.source == {"reference": f"{registry.netloc}/lab/web:1", "digest": digest, "manifest": digest,
                           "platform": "linux/amd64"}
    assert info.sha256 == digest[7:]
    assert info.defaults == {"env": ["A=1"], "cmd": ["/srv/app"], "entrypoint": [], "workdir": "/srv", "user": "1000"}
    assert store.get("web") == info


def test_pull_by_digest_gets_that_manifest_not_the_tag(registry, store):
    first = registry.push_image("lab/web", "1", [layer(E("version", data=b"first"))])
    registry.push_image("lab/web", "1", [layer(E("version", data=b"second"))])

    info = store.pull(f"{registry.netloc}/lab/web@{first}", name="pinned")

    assert tree(info.rootfs)[b"version"][-1] == b"first"
    assert info.source["digest"] == first


def test_pulling_the_same_digest_again_is_a_no_op(registry, store, proxy):
    digest = registry.push_image("lab/web", "1", [layer(E("f", data=b"x"))])
    first = store.pull(f"{registry.netloc}/lab/web:1", name="web")
    proxy.requests.clear()

    assert store.pull(f"{registry.netloc}/lab/web:1", name="web") == first
    assert blob_requests(proxy) == [], "a tag at the same digest is resolved, nothing fetched"
    pinned = store.pull(f"{registry.netloc}/lab/web@{digest}", name="pinned")
    proxy.requests.clear()
    assert store.pull(f"{registry.netloc}/lab/web@{digest}", name="pinned") == pinned
    assert proxy.requests == [], "a pinned digest already pulled needs no request at all"
    assert sorted(i.name for i in store.list()) == ["pinned", "web"]


def test_tag_moved_to_another_digest_is_a_conflict_for_the_existing_name(registry, store):
    registry.push_image("lab/web", "1", [layer(E("f", data=b"old"))])
    store.pull(f"{registry.netloc}/lab/web:1", name="web")
    registry.push_image("lab/web", "1", [layer(E("f", data=b"new"))])

    with pytest.raises(Conflict, match="image 'web' already exists at another digest"):
        store.pull(f"{registry.netloc}/lab/web:1", name="web")


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-manifest-list"])
def test_manifest_list_with_two_platforms_picks_the_right_one(registry, store, docker):
    amd64 = registry.push_image("lab/multi", None, [layer(E("arch", data=b"amd64"))], docker=docker)
    arm64 = registry.push_image("lab/multi", None, [layer(E("arch", data=b"arm64"))], arch="arm64", docker=docker)
    index = registry.push_index("lab/multi", "1", {"linux/arm64": arm64, "linux/amd64": amd64}, docker=docker)

    default = store.pull(f"{registry.netloc}/lab/multi:1", name="default")
    other = store.pull(f"{registry.netloc}/lab/multi:1", name="other", platform="linux/arm64")

    assert tree(default.rootfs)[b"arch"][-1] == b"amd64"
    assert default.source["digest"] == index and default.source["manifest"] == amd64
    assert tree(other.rootfs)[b"arch"][-1] == b"arm64"
    assert other.source["manifest"] == arm64 and other.source["platform"] == "linux/arm64"
    with pytest.raises(NotFound, match=r"has no image for linux/s390x \(it offers linux/arm64, linux/amd64\)"):
        store.pull(f"{registry.netloc}/lab/multi:1", name="s390x", platform="linux/s390x")


def test_token_auth_lets_an_anonymous_pull_of_a_public_repository(token_registry, store):
    token_registry.push_image("public/web", "1", [layer(E("f", data=b"public"))])

    info = store.pull(f"{token_registry.netloc}/public/web:1", name="web")

    assert tree(info.rootfs)[b"f"][-1] == b"public"
    assert all(auth == "" for _, auth in token_registry.token_server.requests)


def test_token_auth_private_repository_needs_the_right_credentials(token_registry, store):
    token_registry.push_image("private/web", "1", [layer(E("f", data=b"private"))])
    ref = f"{token_registry.netloc}/private/web:1"

    with pytest.raises(NotPermitted, match="pull of 'private/web' denied without credentials"):
        store.pull(ref, name="web")
    with pytest.raises(NotPermitted, match="refused these credentials"):
        store.pull(ref, name="web", credentials=(TEACHER[0], "wrong"))
    info = store.pull(ref, name="web", credentials=TEACHER)

    assert tree(info.rootfs)[b"f"][-1] == b"private"
    query, auth = token_registry.token_server.requests[-1]
    assert auth.startswith("Basic ") and query["scope"] == ["repository:private/web:pull"]


def test_basic_auth_registry_needs_the_right_credentials(store):
    basic = Registry(basic_user=TEACHER)
    try:
        basic.push_image("lab/web", "1", [layer(E("f", data=b"behind basic auth"))])
        ref = f"{basic.netloc}/lab/web:1"
        with pytest.raises(NotPermitted, match=f"registry {basic.netloc}: pull of 'lab/web' needs credentials"):
            store.pull(ref, name="web")
        with pytest.raises(NotPermitted, match="pull of 'lab/web' denied with these credentials"):
            store.pull(ref, name="web", credentials=(TEACHER[0], "wrong"))
        info = store.pull(ref, name="web", credentials=TEACHER)
    finally:
        basic.stop()
    assert tree(info.rootfs)[b"f"][-1] == b"behind basic auth"


def _same_size_other_bytes(blob: bytes) -> bytes:
    """The blob with its gzip header's mtime changed: the same layer once unpacked, another digest."""
    return blob[:4] + b"\x01" + blob[5:]


def _same_size_other_content(blob: bytes) -> bytes:
    return blob.replace(b"the real content", b"the fake content")


@pytest.mark.parametrize("compress, tamper", [(True, _same_size_other_bytes), (False, _same_size_other_content)],
                         ids=["blob-digest", "content"])
def test_wrong_digest_is_refused_and_leaves_nothing(registry, store, compress, tamper):
    good = layer(E("etc", "dir"), E("etc/data", data=b"the real content"), compress=compress)
    registry.push_image("lab/web", "1", [good])
    blob = registry.blob_file(sha(good))
    blob.write_bytes(tamper(good))

    with pytest.raises(ImportFailed, match=f"layer {sha(good)}: digest mismatch"):
        store.pull(f"{registry.netloc}/lab/web:1", name="web")

    assert store.list() == [] and leftovers(store) == []


def test_interrupted_pull_leaves_nothing(registry, store, monkeypatch):
    cutting = _proxy(monkeypatch, cut_blobs=True)
    try:
        registry.push_image("lab/web", "1", [layer(E("big", data=os.urandom(256 << 10)))])
        with pytest.raises(ImportFailed, match=r"the connection closed after \d+ of \d+ bytes"):
            store.pull(f"{registry.netloc}/lab/web:1", name="web")
    finally:
        cutting.stop()
    assert store.list() == [] and leftovers(store) == []


def test_registry_killed_mid_blob_leaves_nothing(registry, store):
    registry.push_image("lab/web", "1", [layer(E("big", data=os.urandom(32 << 20)), compress=False)])

    def kill_at_first_bytes(event):
        if event["status"] == "fetching" and registry.process.poll() is None:
            registry.process.kill()
            registry.process.wait()

    with pytest.raises(ImportFailed, match=r"layer sha256:[0-9a-f]{64}: the (connection closed|download failed) "
                                           r"after \d+ of \d+ bytes"):
        store.pull(f"{registry.netloc}/lab/web:1", name="web", progress=kill_at_first_bytes)

    assert store.list() == [] and leftovers(store) == []


def test_registry_gone_is_a_network_error(registry, store):
    registry.push_image("lab/web", "1", [layer(E("f", data=b"x"))])
    ref = f"{registry.netloc}/lab/web:1"
    registry.stop()

    with pytest.raises(ImportFailed, match=f"cannot reach registry {registry.netloc}: Connection refused"):
        store.pull(ref, name="web")


def test_unknown_tag_is_not_found(registry, store):
    registry.push_image("lab/web", "1", [layer(E("f", data=b"x"))])

    with pytest.raises(NotFound, match=f"registry {registry.netloc} has no lab/web:2"):
        store.pull(f"{registry.netloc}/lab/web:2", name="web")


def test_rate_limited_registry_is_one_clear_error(store, monkeypatch):
    limited = _proxy(monkeypatch, refuse=429)
    try:
        with pytest.raises(ImportFailed, match=r"registry 127\.0\.0\.1:9 is rate limiting pulls \(429 Too Many "
                                               r"Requests\); retry after 7 s"):
            store.pull("127.0.0.1:9/lab/web:1", name="web")
    finally:
        limited.stop()


def test_pull_goes_through_http_proxy(registry, store, proxy):
    digest = registry.push_image("lab/web", "1", [layer(E("f", data=b"x"))])

    store.pull(f"{registry.netloc}/lab/web:1", name="web")

    assert f"http://{registry.netloc}/v2/lab/web/manifests/1" in proxy.requests
    assert f"http://{registry.netloc}/v2/lab/web/manifests/{digest}" not in proxy.requests


def test_layer_shared_by_two_images_is_fetched_once(registry, store, proxy):
    shared = layer(E("usr", "dir"), E("usr/shared", data=b"in both"))
    registry.push_image("lab/one", "1", [shared, layer(E("one", data=b"1"))])
    registry.push_image("lab/two", "1", [shared, layer(E("two", data=b"2"))])

    one = store.pull(f"{registry.netloc}/lab/one:1", name="one")
    two = store.pull(f"{registry.netloc}/lab/two:1", name="two")

    shared_digest = one.layers[0]
    assert two.layers[0] == shared_digest
    assert [r for r in blob_requests(proxy) if r.endswith(shared_digest)] == [
        f"http://{registry.netloc}/v2/lab/one/blobs/{shared_digest}"]
    assert tree(two.rootfs)[b"usr/shared"][-1] == b"in both" and b"two" in tree(two.rootfs)
    store.remove("one")
    store.remove("two")
    assert leftovers(store) == [], "the layer cache empties with the last image that lists a layer"


@pytest.mark.parametrize("entries, message", [
    ([E("../../escape", data=b"x")], r"'\.\.' is not allowed in a path"),
    ([E("evil", "symlink", link="/"), E("evil/etc/pwned", data=b"x")], r"its path goes through a symlink"),
], ids=["dotdot", "through-symlink"])
def test_hostile_layer_is_refused_and_leaves_nothing(registry, store, entries, message):
    registry.push_image("lab/evil", "1", [layer(*entries)])

    with pytest.raises(ImportFailed, match=message):
        store.pull(f"{registry.netloc}/lab/evil:1", name="evil")

    assert store.list() == [] and leftovers(store) == []


def test_device_nodes_in_a_layer_are_skipped_as_imports_skip_them(registry, store):
    registry.push_image("lab/dev", "1", [layer(E("dev", "dir"), E("dev/sda", "blk"), E("dev/mem", "chr"))])

    info = store.pull(f"{registry.netloc}/lab/dev:1", name="dev")

    assert info.devices_skipped == 2 and sorted(tree(info.rootfs)) == [b"dev"]


def test_container_runs_from_a_pulled_image(registry, rt, busybox_tar):
    registry.push_image("lab/busybox", "1", [gzip.compress(busybox_tar.read_bytes(), mtime=0),
                                              layer(E("etc/motd", data=b"pulled from a registry\n"))],
                        config={"Cmd": ["cat", "/etc/motd"]})
    ImageStore().pull(f"{registry.netloc}/lab/busybox:1", name="pulled")

    state = rt.wait(rt.run(ContainerConfig(image="pulled")).id)
    output = b"".join(entry["data"] for entry in rt.logs(state.id))

    assert (state.exit_code, output) == (0, b"pulled from a registry\n")


def test_cli_pull_prints_progress_per_layer_and_the_image_id(registry, state_root):
    registry.push_image("lab/web", "1", [layer(E("f", data=os.urandom(64 << 10)))])

    done = subprocess.run([sys.executable, "-m", "runtime", "--root", str(state_root), "images", "pull",
                           f"{registry.netloc}/lab/web:1", "--name", "web"], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    info = ImageStore(state_root).get("web")
    assert done.stdout == info.id + "\n"
    assert f"layer 1/1 {info.layers[0][7:19]}: done " in done.stderr
    listed = subprocess.run([sys.executable, "-m", "runtime", "--root", str(state_root), "images", "inspect", "web"],
                            capture_output=True, text=True, check=True)
    assert json.loads(listed.stdout)["source"]["manifest"] == info.source["manifest"]


def test_plain_http_only_for_loopback_and_insecure_registries(monkeypatch):
    monkeypatch.delenv("TERRARIUM_INSECURE_REGISTRIES", raising=False)
    assert Transport("127.0.0.1:5000", "lab/web").may_fall_back
    assert Transport("localhost:5000", "lab/web").may_fall_back
    assert not Transport("registry.school.example:5000", "lab/web").may_fall_back
    monkeypatch.setenv("TERRARIUM_INSECURE_REGISTRIES", "registry.school.example:5000")
    assert Transport("registry.school.example:5000", "lab/web").may_fall_back
    assert not Transport("registry.school.example", "lab/web").may_fall_back


@pytest.fixture
def tls_registry(monkeypatch):
    started = Registry(tls=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(started.cert))
    yield started
    started.stop()


def test_tls_registry_is_pulled_over_https(tls_registry, store):
    tls_registry.push_image("lab/web", "1", [layer(E("f", data=b"over tls"))])

    info = store.pull(f"{tls_registry.netloc}/lab/web:1", name="web")

    assert tree(info.rootfs)[b"f"][-1] == b"over tls"


def test_tls_registry_with_an_untrusted_certificate_is_refused(tls_registry, store, monkeypatch):
    tls_registry.push_image("lab/web", "1", [layer(E("f", data=b"over tls"))])
    monkeypatch.delenv("SSL_CERT_FILE")

    with pytest.raises(ImportFailed, match=f"cannot reach registry {tls_registry.netloc}: TLS certificate not trusted"):
        store.pull(f"{tls_registry.netloc}/lab/web:1", name="web")

    assert store.list() == [] and leftovers(store) == []


def test_pull_tunnels_through_https_proxy(tls_registry, store, monkeypatch):
    tunnel = _proxy(monkeypatch)
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    try:
        tls_registry.push_image("lab/web", "1", [layer(E("f", data=b"tunnelled"))])
        info = store.pull(f"{tls_registry.netloc}/lab/web:1", name="web")
    finally:
        tunnel.stop()
    assert tree(info.rootfs)[b"f"][-1] == b"tunnelled"
    assert tunnel.requests and set(tunnel.requests) == {f"CONNECT {tls_registry.netloc}"}


@pytest.mark.parametrize("text, full, api_host", [
    ("debian:12", "docker.io/library/debian:12", "registry-1.docker.io"),
    ("python", "docker.io/library/python:latest", "registry-1.docker.io"),
    ("docker.io/library/python:3.12-slim", "docker.io/library/python:3.12-slim", "registry-1.docker.io"),
    ("teacher/lab", "docker.io/teacher/lab:latest", "registry-1.docker.io"),
    ("registry.school.example:5000/lab/web:1", "registry.school.example:5000/lab/web:1",
     "registry.school.example:5000"),
    ("localhost/web", "localhost/web:latest", "localhost"),
    ("ghcr.io/org/img@sha256:" + "a" * 64, "ghcr.io/org/img@sha256:" + "a" * 64, "ghcr.io"),
])
def test_reference_is_read_as_docker_reads_it(text, full, api_host):
    ref = parse_reference(text)

    assert (str(ref), ref.api_host) == (full, api_host)


@pytest.mark.parametrize("text, message", [
    ("Debian:12", "must be lowercase"),
    ("debian@sha256:abc", "the digest must be sha256: and 64 lowercase hex digits"),
    ("host:5000/web:bad tag", "is not a valid tag"),
    ("", "must be a non-empty string"),
])
def test_malformed_reference_is_refused_naming_what_is_wrong(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_reference(text)
