"""The emulator's HTTP layer: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1.

Order for an ``/api`` request: injected latency → injected fault (if sampled) → ``x-api-key``
check → route → handler. Every ``/api`` request is logged with its final status. Sandbox hooks
live at the server root under ``/_sandbox/`` and need no key:

- ``POST /_sandbox/faults`` ``{"status","rate","retry_after","latency_ms"}`` (``{}`` clears),
  ``GET`` shows, ``DELETE`` clears;
- ``GET /_sandbox/requests`` (oldest first), ``DELETE /_sandbox/requests`` or
  ``POST /_sandbox/requests/clear``;
- ``POST /_sandbox/reset``: clears backend, directory, faults and log (keeps org and LDAP server),
  and forgets the extra orgs;
- ``GET /_sandbox/health``: ``{"ok": true, "org_id": ...}``;
- ``POST /_sandbox/orgs`` ``{"api_key": "<at least 16 characters>"}``: a second (third, ...) org
  with its own LDAP server, reached with that key; answers ``{"org_id", "ldap_server_id"}``.
  ``GET /_sandbox/orgs`` lists every org id. Extra orgs live in memory and are REST only: the
  slapd projection (LDAP, the NAS simulators' logins) follows the first org.

Any error is a JSON error body; bad input is a 4xx, never a 5xx.
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jcqnap.sandbox.jumpcloud import urls
from jcqnap.sandbox.jumpcloud.exceptions import BadRequest, JumpCloudError, NotFound, error_body
from jcqnap.sandbox.jumpcloud.hooks import FaultConfig, Hooks
from jcqnap.sandbox.jumpcloud.models import JumpCloudBackend, hash_api_key
from jcqnap.sandbox.jumpcloud.records import new_id
from jcqnap.sandbox.jumpcloud.responses import ApiRequest, ApiResponse

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


class EmulatorServer(ThreadingHTTPServer):
    """Holds the backend and the hooks for the request handlers."""

    daemon_threads = True

    def __init__(self, port: int, backend: JumpCloudBackend, hooks: Hooks | None = None) -> None:
        self.backend = backend
        self.hooks = hooks or Hooks()
        #: Extra orgs by the SHA-256 of their API key (`POST /_sandbox/orgs`).
        self.extra_orgs: dict[str, JumpCloudBackend] = {}
        super().__init__(("127.0.0.1", port), EmulatorHandler)

    def backend_for(self, api_key: str | None) -> JumpCloudBackend:
        """The org an API key belongs to; the first org (which then answers 401) for any other key."""
        if api_key and self.extra_orgs:
            return self.extra_orgs.get(hash_api_key(api_key), self.backend)
        return self.backend

    def add_org(self, body: Any) -> dict[str, str]:
        key = body.get("api_key") if isinstance(body, dict) else None
        if not isinstance(key, str) or len(key) < 16:
            raise BadRequest("api_key: give a key of at least 16 characters")
        digest = hash_api_key(key)
        if self.backend_for(key) is not self.backend or self.backend.key_matches(key):
            raise BadRequest("api_key: this key already belongs to an org")
        org = JumpCloudBackend(new_id(), new_id(), digest, org_name=f"jcqnap sandbox {len(self.extra_orgs) + 2}")
        self.extra_orgs[digest] = org
        return {"org_id": org.org_id, "ldap_server_id": org.ldap_server_id}


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jcqnap-sandbox"
    sys_version = ""
    timeout = 30  # socket timeout: a stuck client cannot pin a thread forever
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log hook replaces access logging (and never records bodies)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str) -> Any:
        """Every other method (HEAD, OPTIONS, TRACE, made-up ones) goes through the API's routing too,
        which answers the JSON 405/404 the API gives, not the stdlib's HTML 501."""
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib raises before routing (bad request line, headers too large) as the vendor's
        JSON Error body instead of an HTML page."""
        self.close_connection = True
        try:
            self._send(ApiResponse(code, error_body(code, message or self.responses.get(code, ("error",))[0])))
        except OSError:
            pass

    # -- plumbing ---------------------------------------------------------------------------------
    def _send(self, resp: ApiResponse) -> None:
        data = b"" if resp.body is None or resp.status == 204 else json.dumps(resp.body).encode()
        self.send_response(resp.status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("invalid Content-Length") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise BadRequest("request body too large")
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("request body is not valid JSON") from None

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        body: Any = None
        early: JumpCloudError | None = None
        try:
            body = self._read_body()
        except JumpCloudError as exc:
            early = exc
        if split.path.startswith("/_sandbox/"):
            self._send(self._hook(split.path, body) if early is None else ApiResponse(early.code, early.body()))
            return
        resp = self._api(split.path, split.query, body, early)
        if split.path.startswith(urls.API_PREFIX + "/") or split.path == urls.API_PREFIX:
            self.server.hooks.record(self.command, split.path, split.query, resp.status)
        self._send(resp)

    def _api(self, path: str, raw_query: str, body: Any, early: JumpCloudError | None) -> ApiResponse:
        hooks, backend = self.server.hooks, self.server.backend_for(self.headers.get("x-api-key"))
        faults, fire = hooks.fault_for_request()
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if fire and faults.status is not None:
            headers = {} if faults.retry_after is None else {"Retry-After": str(faults.retry_after)}
            return ApiResponse(faults.status, error_body(faults.status, "injected fault"), headers)
        try:
            if not path.startswith(urls.API_PREFIX + "/"):
                raise NotFound(f"no such path: {path}")
            backend.authenticate(self.headers.get("x-api-key"), self.headers.get("x-org-id"))
            handler, params = urls.resolve(self.command, path)
            if early is not None:
                raise early
            request = ApiRequest(self.command, path, parse_qs(raw_query, keep_blank_values=True), body, params)
            return handler(backend, request)
        except JumpCloudError as exc:
            return ApiResponse(exc.code, exc.body())
        except Exception:
            log.exception("unexpected error on %s %s", self.command, path)
            return ApiResponse(500, error_body(500, "internal error in the emulator"))

    def _hook(self, path: str, body: Any) -> ApiResponse:
        hooks, backend = self.server.hooks, self.server.backend
        route = (self.command, path.rstrip("/"))
        try:
            if route == ("POST", "/_sandbox/faults"):
                hooks.set_faults(FaultConfig.parse(body))
                return ApiResponse(200, hooks.faults_dict())
            if route == ("GET", "/_sandbox/faults"):
                return ApiResponse(200, hooks.faults_dict())
            if route == ("DELETE", "/_sandbox/faults"):
                hooks.set_faults(FaultConfig())
                return ApiResponse(200, hooks.faults_dict())
            if route == ("GET", "/_sandbox/requests"):
                return ApiResponse(200, hooks.requests())
            if route in (("DELETE", "/_sandbox/requests"), ("POST", "/_sandbox/requests/clear")):
                hooks.clear_requests()
                return ApiResponse(204)
            if route == ("POST", "/_sandbox/reset"):
                backend.reset()
                self.server.extra_orgs.clear()
                hooks.reset()
                return ApiResponse(204)
            if route == ("POST", "/_sandbox/orgs"):
                return ApiResponse(201, self.server.add_org(body))
            if route == ("GET", "/_sandbox/orgs"):
                orgs = [backend, *self.server.extra_orgs.values()]
                return ApiResponse(200, {"org_ids": [o.org_id for o in orgs]})
            if route == ("GET", "/_sandbox/health"):
                return ApiResponse(200, {"ok": True, "org_id": backend.org_id})
            raise NotFound(f"no such sandbox hook: {self.command} {path}")
        except JumpCloudError as exc:
            return ApiResponse(exc.code, exc.body())
        except Exception:
            log.exception("unexpected error on hook %s %s", self.command, path)
            return ApiResponse(500, error_body(500, "internal error in the emulator"))


def serve(config: dict[str, Any], port: int) -> None:
    """Run the emulator until killed: backend in memory, projected into slapd over ldapi.

    ``config`` comes from the 0600 ``emulator.json`` the CLI writes: ``org_id``,
    ``ldap_server_id``, ``api_key_sha256`` and ``ldapi_uri``. The API key itself never reaches
    this process.
    """
    from jcqnap.sandbox.ldap_projection import LdapProjection

    backend = JumpCloudBackend(config["org_id"], config["ldap_server_id"], config["api_key_sha256"])
    projection = LdapProjection(config["ldapi_uri"])
    projection.attach(backend)
    server = EmulatorServer(port, backend)
    log.info("JumpCloud emulator for org %s on http://127.0.0.1:%d/api", backend.org_id, port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        projection.close()
