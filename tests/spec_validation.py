"""Validate JumpCloud API traffic against the vendor's OpenAPI 3 files (``shared/specs/jumpcloud/oas3``).

Usable by any test that talks to the emulator (or records a client's traffic):

    from tests.spec_validation import validate_exchange, validate_error_body
    resp = session.get(f"{api_url}/systemusers", ...)
    validate_exchange(resp)          # the request and the response both match the spec
    validate_response(resp)          # only the response (e.g. for a deliberately bad request)
    validate_error_body(resp)        # a 4xx/5xx body is the spec's Error object

The emulator's ``http://127.0.0.1:<port>/api`` is mapped onto the spec's server URLs
(``https://console.jumpcloud.com/api`` for v1, ``.../api/v2`` for v2) before matching.
The specs are loaded once per process (a few seconds: the v2 file is 1.7 MB).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jsonschema
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

#: The vendor files, vendored unchanged in specs/jumpcloud/oas3 (see its README); JCQNAP_SPEC_DIR overrides.
SPEC_DIR = Path(os.environ.get("JCQNAP_SPEC_DIR", Path(__file__).resolve().parents[1] / "specs/jumpcloud/oas3"))
VENDOR = "https://console.jumpcloud.com"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "status"],
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "status": {"type": "string"}},
}


def _fix_vendor_spec(node: Any) -> None:
    """The vendor spec gives array parameters a *string* default (``default: "[]"``), which
    openapi-core applies and then rejects. Drop defaults whose type does not match their schema.
    Likewise ``content: {}`` on a 204 makes openapi-core demand a body: an empty content map
    means "no body", so drop it."""
    if isinstance(node, dict):
        if node.get("type") == "array" and isinstance(node.get("default"), str):
            del node["default"]
        if node.get("content") == {} and "description" in node:
            del node["content"]
        for value in node.values():
            _fix_vendor_spec(value)
    elif isinstance(node, list):
        for value in node:
            _fix_vendor_spec(value)


@functools.cache
def spec(version: str) -> OpenAPI:
    """The OpenAPI object for ``"v1"`` or ``"v2"`` (spec self-validation skipped: it is slow)."""
    with open(SPEC_DIR / f"{version}.yaml") as f:
        document = yaml.safe_load(f)
    _fix_vendor_spec(document)
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def _vendor_request(prepared: requests.PreparedRequest) -> tuple[str, RequestsOpenAPIRequest]:
    parts = urlsplit(prepared.url or "")
    path = parts.path
    idx = path.find("/api/")
    if idx < 0:
        raise AssertionError(f"not an API URL: {prepared.url}")
    api_path = path[idx:]
    version = "v2" if api_path.startswith("/api/v2/") else "v1"
    vendor = urlsplit(VENDOR)
    copy = prepared.copy()
    copy.url = urlunsplit((vendor.scheme, vendor.netloc, api_path, parts.query, ""))
    return version, RequestsOpenAPIRequest(copy)


def validate_request(prepared: requests.PreparedRequest) -> None:
    """Raise if the request (path, parameters, body, x-api-key) does not match the spec."""
    version, req = _vendor_request(prepared)
    spec(version).validate_request(req)


def validate_response(resp: requests.Response) -> None:
    """Raise if the response's status and body are not what the spec declares for that operation."""
    version, req = _vendor_request(resp.request)
    spec(version).validate_response(req, RequestsOpenAPIResponse(resp))


def validate_exchange(resp: requests.Response) -> None:
    """Both ``validate_request`` and ``validate_response``."""
    validate_request(resp.request)
    validate_response(resp)


def validate_error_body(resp: requests.Response) -> dict[str, Any]:
    """Assert the body is the vendor's Error object (``code`` equal to the status); return it."""
    body = resp.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["code"] == resp.status_code, body
    return body
