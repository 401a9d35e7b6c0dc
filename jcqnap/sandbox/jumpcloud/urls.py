"""The emulator's whole routing table: (method, path pattern, handler), paths below ``/api``."""

from __future__ import annotations

import re
from collections.abc import Callable

from jcqnap.sandbox.jumpcloud import responses as h
from jcqnap.sandbox.jumpcloud.exceptions import MethodNotAllowed, NotFound
from jcqnap.sandbox.jumpcloud.models import JumpCloudBackend

API_PREFIX = "/api"
Handler = Callable[[JumpCloudBackend, h.ApiRequest], h.ApiResponse]
_ID = r"[^/]+"

ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/organizations", h.organizations_list),
    ("GET", "/systemusers", h.systemusers_list),
    ("POST", "/systemusers", h.systemusers_post),
    ("GET", "/systemusers/{id}", h.systemusers_get),
    ("PUT", "/systemusers/{id}", h.systemusers_put),
    ("DELETE", "/systemusers/{id}", h.systemusers_delete),
    ("GET", "/v2/usergroups", h.usergroups_list),
    ("POST", "/v2/usergroups", h.usergroups_post),
    ("GET", "/v2/usergroups/{id}", h.usergroups_get),
    ("PUT", "/v2/usergroups/{id}", h.usergroups_put),
    ("DELETE", "/v2/usergroups/{id}", h.usergroups_delete),
    ("GET", "/v2/usergroups/{id}/members", h.members_list),
    ("POST", "/v2/usergroups/{id}/members", h.members_post),
    ("GET", "/v2/usergroups/{id}/associations", h.associations_list),
    ("POST", "/v2/usergroups/{id}/associations", h.associations_post),
    ("GET", "/v2/ldapservers", h.ldapservers_list),
    ("GET", "/v2/ldapservers/{id}", h.ldapservers_get),
    ("GET", "/v2/ldapservers/{server}/associations", h.ldapserver_associations_list),
    ("GET", "/v2/ldapservers/{server}/sambadomains", h.sambadomains_list),
    ("POST", "/v2/ldapservers/{server}/sambadomains", h.sambadomains_post),
    ("GET", "/v2/ldapservers/{server}/sambadomains/{id}", h.sambadomains_get),
    ("PUT", "/v2/ldapservers/{server}/sambadomains/{id}", h.sambadomains_put),
    ("DELETE", "/v2/ldapservers/{server}/sambadomains/{id}", h.sambadomains_delete),
]

_COMPILED = [
    (method, re.compile("^" + API_PREFIX + re.sub(r"\{(\w+)\}", rf"(?P<\1>{_ID})", path) + "/?$"), handler)
    for method, path, handler in ROUTES
]


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler and path parameters for a request; 404 for an unknown path, 405 for a bad method."""
    path_known = False
    for route_method, pattern, handler in _COMPILED:
        m = pattern.match(path)
        if m:
            path_known = True
            if route_method == method:
                return handler, m.groupdict()
    if path_known:
        raise MethodNotAllowed(f"method {method} is not allowed on {path}")
    raise NotFound(f"no such API path: {path}")
