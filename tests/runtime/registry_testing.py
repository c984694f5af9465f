"""A Distribution registry (Debian's docker-registry) on 127.0.0.1 for the
pull tests and bench/pull.py: started in a private directory, filled by
plain HTTP pushes of blobs and manifests built here, optionally behind
token auth from a small token service on the loopback, and a loopback HTTP
proxy that counts what passes and can cut a response short."""

import base64
import gzip
import hashlib
import http.client
import http.server
import json
import os
import shutil
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import warnings
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SERVICE = "terrarium-test-registry"
ISSUER = "terrarium-test-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _bcrypt(password: str) -> str:
    """The only hash docker-registry's htpasswd takes, from libxcrypt through crypt (deprecated, not gone, in 3.11)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


class TokenIssuer:
    """Signs registry tokens (RS256 JWTs with the certificate in x5c) with a key made for one test."""

    def __init__(self, workdir: Path):
        self.key, self.cert = workdir / "token.key", workdir / "token.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=terrarium-test-token", "-keyout", str(self.key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()

    def mint(self, subject: str, repository: str, actions: list[str]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 600, "nbf": now - 60, "iat": now,
                  "jti": os.urandom(8).hex(),
                  "access": [{"type": "repository", "name": repository, "actions": actions}] if actions else []}
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing.encode(),
                                   check=True, capture_output=True).stdout
        return f"{signing}.{_b64url(signature)}"


class _Quiet(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class TokenServer:
    """The token service: anonymous callers may pull repositories outside private/,
    `users` ({name: password}) may pull anything; wrong credentials are refused."""

    def __init__(self, issuer: TokenIssuer, users: dict):
        self.issuer, self.users, self.requests = issuer, users, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                server.requests.append((query, auth))
                user = None
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if server.users.get(name) != password:
                        return self._send(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                    user = name
                scope = query.get("scope", [""])[0]
                _, repository, _ = scope.split(":") if scope.count(":") == 2 else ("", "", "")
                allowed = ["pull"] if user or not repository.startswith("private/") else []
                token = server.issuer.mint(user or "", repository, allowed)
                self._send(200, {"token": token})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Registry:
    """docker-registry on 127.0.0.1:<free port>, its storage and log in a private directory."""

    def __init__(self, token_server: TokenServer | None = None, tls: bool = False, basic_user=None):
        self.dir = Path(tempfile.mkdtemp(prefix="terrarium-registry-"))
        self.port = free_port()
        self.netloc = f"127.0.0.1:{self.port}"
        self.token_server = token_server
        self.cert = self.dir / "tls.pem" if tls else None
        auth = tls_config = ""
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                            str(self.dir / "tls.key"), "-out", str(self.cert)], check=True, capture_output=True)
            tls_config = f"  tls:\n    certificate: {self.cert}\n    key: {self.dir / 'tls.key'}\n"
        self.basic_user = basic_user
        if basic_user is not None:
            (self.dir / "htpasswd").write_text(f"{basic_user[0]}:{_bcrypt(basic_user[1])}\n")
            auth = f"auth:\n  htpasswd:\n    realm: terrarium-test\n    path: {self.dir / 'htpasswd'}\n"
        if token_server is not None:
            auth = (f"auth:\n  token:\n    realm: {token_server.realm}\n    service: {SERVICE}\n"
                    f"    issuer: {ISSUER}\n    rootcertbundle: {token_server.issuer.cert}\n")
        (self.dir / "config.yml").write_text(
            f"version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{self.port}\n{tls_config}{auth}")
        self.log = open(self.dir / "registry.log", "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(self.dir / "config.yml")],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self._push_token = None
        deadline = time.monotonic() + 30
        while True:
            try:
                self._request("GET", "/v2/", b"", {})
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("docker-registry did not start: " + (self.dir / "registry.log").read_text())
                time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _request(self, method, path, body, headers, repository=None):
        if self.basic_user is not None and repository is not None:
            secret = base64.b64encode(":".join(self.basic_user).encode()).decode()
            headers = {**headers, "Authorization": "Basic " + secret}
        if self.token_server is not None and repository is not None:
            headers = {**headers, "Authorization": "Bearer " + self.token_server.issuer.mint(
                "pusher", repository, ["pull", "push"])}
        if self.cert is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                               context=ssl.create_default_context(cafile=self.cert))
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def push_blob(self, repository: str, data: bytes) -> dict:
        """Upload a blob; its descriptor (digest, size)."""
        status, headers, body = self._request("POST", f"/v2/{repository}/blobs/uploads/", b"", {}, repository)
        assert status == 202, (status, body)
        location = urllib.parse.urlsplit(headers["Location"])
        path = f"{location.path}?{location.query}&digest={sha(data)}" if location.query else \
            f"{location.path}?digest={sha(data)}"
        status, _, body = self._request("PUT", path, data, {"Content-Type": "application/octet-stream"}, repository)
        assert status == 201, (status, body)
        return {"digest": sha(data), "size": len(data)}

    def push_manifest(self, repository: str, target: str, data: bytes, media_type: str) -> str:
        status, _, body = self._request("PUT", f"/v2/{repository}/manifests/{target}", data,
                                        {"Content-Type": media_type}, repository)
        assert status == 201, (status, body)
        return sha(data)

    def push_image(self, repository: str, tag: str | None, layers: list[bytes], *, arch="amd64", config=None,
                   docker=False) -> str:
        """Push an image of the given tar layers (gzip-compressed when they start with gzip's magic); its manifest digest."""
        diff_ids = [sha(gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer) for layer in layers]
        config_bytes = json.dumps({"architecture": arch, "os": "linux", "config": config or {"Cmd": ["sh"]},
                                   "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        layer_type = ("application/vnd.docker.image.rootfs.diff.tar" if docker
                      else "application/vnd.oci.image.layer.v1.tar")
        descriptors = [{"mediaType": layer_type + (".gzip" if docker else "+gzip") if layer[:2] == b"\x1f\x8b"
                        else layer_type, **self.push_blob(repository, layer)} for layer in layers]
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json" if docker
                       else "application/vnd.oci.image.config.v1+json", **self.push_blob(repository, config_bytes)},
            "layers": descriptors}).encode()
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        digest = self.push_manifest(repository, sha(manifest), manifest, media_type)
        if tag:
            self.push_manifest(repository, tag, manifest, media_type)
        return digest

    def push_index(self, repository: str, tag: str, platforms: dict, *, docker=False) -> str:
        """Push a manifest list (docker) or OCI index of {"linux/amd64": manifest digest, ...}."""
        entries = []
        for plat, digest in platforms.items():
            status, headers, body = self._request(
                "GET", f"/v2/{repository}/manifests/{digest}", b"",
                {"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"}, repository)
            assert status == 200, (status, body)
            os_name, arch = plat.split("/")[:2]
            entries.append({"mediaType": headers["Content-Type"], "digest": digest, "size": len(body),
                            "platform": {"os": os_name, "architecture": arch}})
        media_type = DOCKER_LIST if docker else OCI_INDEX
        index = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}).encode()
        return self.push_manifest(repository, tag, index, media_type)

    def blob_file(self, digest: str) -> Path:
        hexdigest = digest.removeprefix("sha256:")
        return self.dir / "data/docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


class Proxy:
    """An HTTP proxy on 127.0.0.1 (plain-HTTP requests and CONNECT tunnels): records each request
    line it forwards; with cut_blobs, sends only half of each blob body (with
    the full Content-Length) and closes the connection; with refuse (a status),
    answers every request so itself, as a registry over its rate limit does."""

    def __init__(self, cut_blobs: bool = False, refuse: int | None = None):
        self.requests, self.cut_blobs, self.refuse = [], cut_blobs, refuse
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                proxy.requests.append(f"CONNECT {self.path}")
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=30)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                ends = [self.connection, upstream]
                try:
                    while True:
                        ready, _, _ = select.select(ends, [], [], 30)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(1 << 16)
                            if not data:
                                return
                            (upstream if end is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()

            def do_GET(self):
                proxy.requests.append(self.path)
                if proxy.refuse:
                    data = json.dumps({"errors": [{"code": "TOOMANYREQUESTS"}]}).encode()
                    self.send_response(proxy.refuse)
                    self.send_header("Retry-After", "7")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                target = urllib.parse.urlsplit(self.path)
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
                conn.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                cut = proxy.cut_blobs and "/blobs/" in target.path and resp.status == 200 and len(body) > 2048
                if cut:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if cut else body)

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
