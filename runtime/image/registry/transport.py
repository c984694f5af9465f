"""HTTP to one registry: kept-alive connections, HTTP_PROXY/HTTPS_PROXY/
NO_PROXY, the token dance of `WWW-Authenticate: Bearer realm=,service=,
scope=` (anonymous, or Basic credentials to the token service), redirects
to blob storage, and one TerrariumError per failure.

HTTPS first; plain HTTP only to registries on the loopback or in the
admin's insecure list (TERRARIUM_INSECURE_REGISTRIES, comma-separated
host[:port]) that do not speak TLS, as Docker's `insecure-registries`;
credentials are never sent in the clear elsewhere.
"""

import base64
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import urllib.parse
import urllib.request

from runtime.errors import ImportFailed, NotFound, NotPermitted

TIMEOUT_S = 60
MAX_REDIRECTS = 5
MAX_ERROR_BODY = 64 << 10
MAX_TOKEN_BODY = 1 << 20
INSECURE_ENV = "TERRARIUM_INSECURE_REGISTRIES"
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def insecure_registries() -> tuple[str, ...]:
    """The admin's list of registries that may be reached over plain HTTP."""
    return tuple(h.strip().lower() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip())


def _hostname(netloc: str) -> str:
    return urllib.parse.urlsplit("//" + netloc).hostname or ""


def is_loopback(netloc: str) -> bool:
    host = _hostname(netloc)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_allowed(netloc: str, insecure=()) -> bool:
    netloc = netloc.lower()
    return is_loopback(netloc) or netloc in insecure or _hostname(netloc) in insecure


def challenge(header: str) -> tuple[str, dict]:
    """The scheme and parameters of a WWW-Authenticate header."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(params))


def error_code(body: bytes) -> str:
    """The first distribution error code (MANIFEST_UNKNOWN, DENIED, ...) of a response body, or ''."""
    try:
        errors = json.loads(body).get("errors")
        return str(errors[0].get("code", "")) if errors else ""
    except (ValueError, AttributeError, TypeError, IndexError):
        return ""


class Transport:
    """Requests to one registry, authenticated for pulls of one repository."""

    def __init__(self, netloc: str, repository: str, credentials=None, insecure=None, timeout=TIMEOUT_S):
        self.netloc = netloc
        self.repository = repository
        self.insecure = insecure_registries() if insecure is None else tuple(h.lower() for h in insecure)
        self.scheme = "https"
        # As Docker: a registry on the loopback or in the insecure list that
        # does not answer in TLS at first contact is asked again in plain HTTP.
        self.may_fall_back = plain_http_allowed(netloc, self.insecure)
        self.credentials = credentials
        self.timeout = timeout
        self._auth = None
        self._connections = {}
        self._proxies = urllib.request.getproxies_environment()
        self._tls = None

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{path}"

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        key = (scheme, netloc)
        conn = self._connections.get(key)
        if conn is not None:
            return conn
        proxy = self._proxies.get(scheme)
        if proxy and urllib.request.proxy_bypass_environment(_hostname(netloc), self._proxies):
            proxy = None
        if scheme == "https" and self._tls is None:
            self._tls = ssl.create_default_context()
        target = urllib.parse.urlsplit(f"{scheme}://{netloc}")
        if proxy:
            p = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
            headers = {}
            if p.username:
                secret = f"{urllib.parse.unquote(p.username)}:{urllib.parse.unquote(p.password or '')}"
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
            if scheme == "https":
                conn = http.client.HTTPSConnection(p.hostname, p.port or 80, timeout=self.timeout, context=self._tls)
                conn.set_tunnel(target.hostname, target.port or 443, headers)
            else:
                conn = http.client.HTTPConnection(p.hostname, p.port or 80, timeout=self.timeout)
                conn.proxy_headers = headers
                conn.via_proxy = True
        elif scheme == "https":
            conn = http.client.HTTPSConnection(target.hostname, target.port or 443, timeout=self.timeout,
                                               context=self._tls)
        else:
            conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=self.timeout)
        self._connections[key] = conn
        return conn

    def _send(self, method: str, url: str, headers: dict, retry: bool = True) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "http" and not plain_http_allowed(parts.netloc, self.insecure):
            raise NotPermitted(f"registry {self.netloc} sent us to {parts.netloc} over plain HTTP, "
                               "which is allowed only on the loopback or for insecure registries")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(parts.scheme, parts.netloc)
        sent = dict(headers)
        if getattr(conn, "via_proxy", False):
            path = f"{parts.scheme}://{parts.netloc}{path}"
            sent.update(conn.proxy_headers)
        try:
            conn.request(method, path, headers=sent)
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(parts.scheme, parts.netloc)
            # A kept-alive connection the server closed meanwhile: one more try on a new one.
            if retry and isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                return self._send(method, url, headers, retry=False)
            raise ImportFailed(f"cannot reach registry {parts.netloc}: {reason(exc)}") from None

    def _drop(self, scheme: str, netloc: str) -> None:
        conn = self._connections.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def _read_small(self, resp: http.client.HTTPResponse, limit: int, where: tuple[str, str]) -> bytes:
        """Up to limit bytes of a response; its connection is dropped unless the body was all read."""
        try:
            body = resp.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            self._drop(*where)
            raise ImportFailed(f"cannot reach registry {where[1]}: {reason(exc)}") from None
        if not resp.isclosed():
            self._drop(*where)
        return body

    def read_body(self, resp: http.client.HTTPResponse, limit: int) -> bytes:
        """The body of a small 200 response (a manifest, a config), up to limit bytes."""
        try:
            body = resp.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ImportFailed(f"cannot reach registry {self.netloc}: {reason(exc)}") from None
        if not resp.isclosed():
            self.close()
        return body

    def get(self, path: str, headers=None, what: str = "") -> http.client.HTTPResponse:
        """A 200 response to GET path (redirects followed, auth done); errors raised as TerrariumErrors."""
        headers = dict(headers or {})
        url = self.url(path)
        authenticated = False
        for _ in range(MAX_REDIRECTS + 1):
            own = urllib.parse.urlsplit(url).netloc == self.netloc
            sent = {**headers, **({"Authorization": self._auth} if own and self._auth else {})}
            try:
                resp = self._send("GET", url, sent)
            except ImportFailed as tls_failure:
                if not (own and self.may_fall_back):
                    raise
                self.may_fall_back = False
                self.scheme = "http"
                url = self.url(path)
                try:
                    resp = self._send("GET", url, sent)
                except ImportFailed:
                    raise tls_failure from None
                if resp.status == 400:
                    # A TLS server's answer to plain HTTP: what failed is the TLS (an untrusted certificate).
                    self.close()
                    raise tls_failure from None
            self.may_fall_back = False
            if resp.status == 200:
                return resp
            body = self._read_small(resp, MAX_ERROR_BODY, parts_of(url))
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                url = urllib.parse.urljoin(url, resp.getheader("Location"))
                continue
            if resp.status == 401 and own and not authenticated:
                self._authenticate(resp.getheader("WWW-Authenticate") or "")
                authenticated = True
                continue
            raise self._failure(resp, body, what or path)
        raise ImportFailed(f"registry {self.netloc}: more than {MAX_REDIRECTS} redirects for {what or path}")

    def _failure(self, resp: http.client.HTTPResponse, body: bytes, what: str) -> Exception:
        code = error_code(body)
        where = f"registry {self.netloc}"
        if resp.status == 404:
            if code == "NAME_UNKNOWN":
                return NotFound(f"{where} has no repository {self.repository!r}")
            return NotFound(f"{where} has no {what}")
        if resp.status in (401, 403):
            who = "with these credentials" if self.credentials else "without credentials"
            return NotPermitted(f"{where}: pull of {self.repository!r} denied {who}"
                                + (" (the repository may not exist)" if not self.credentials else ""))
        if resp.status == 429:
            after = resp.getheader("Retry-After")
            return ImportFailed(f"{where} is rate limiting pulls (429 Too Many Requests)"
                                + (f"; retry after {after} s" if after and after.isdigit() else ""))
        return ImportFailed(f"{where} answered {resp.status} {resp.reason} for {what}" + (f" ({code})" if code else ""))

    def _authenticate(self, header: str) -> None:
        scheme, params = challenge(header)
        if scheme == "basic":
            if not self.credentials:
                raise NotPermitted(f"registry {self.netloc}: pull of {self.repository!r} needs credentials")
            self._auth = _basic(self.credentials)
            return
        if scheme != "bearer" or not params.get("realm"):
            raise NotPermitted(f"registry {self.netloc} asks for authentication we do not speak: {header[:80]!r}")
        query = {"service": params.get("service"), "scope": params.get("scope") or f"repository:{self.repository}:pull"}
        realm = params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode({k: v for k, v in query.items() if v})
        headers = {"Authorization": _basic(self.credentials)} if self.credentials else {}
        token_host = urllib.parse.urlsplit(url).netloc
        resp = self._send("GET", url, headers)
        body = self._read_small(resp, MAX_TOKEN_BODY + 1, parts_of(url))
        if resp.status in (401, 403):
            raise NotPermitted(f"registry {self.netloc}: the token service {token_host} refused "
                               + ("these credentials" if self.credentials else "an anonymous pull"))
        if resp.status == 429:
            raise self._failure(resp, body, "a token")
        if resp.status != 200 or len(body) > MAX_TOKEN_BODY:
            raise ImportFailed(f"registry {self.netloc}: the token service {token_host} answered {resp.status}")
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ImportFailed(f"registry {self.netloc}: the token service {token_host} sent no token")
        self._auth = "Bearer " + token


def parts_of(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _basic(credentials) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return f"no answer within {TIMEOUT_S} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
