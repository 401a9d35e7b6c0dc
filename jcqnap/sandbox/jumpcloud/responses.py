"""One short handler per API operation: read the parameters, call the backend, render the body.

No rules here (they are in ``models.py``). Status codes and envelopes are the spec's:
``POST /systemusers`` → 200, ``POST /usergroups`` → 201, graph changes → 204, v1 lists as
``{"totalCount", "results"}``, v2 lists as a bare array with ``x-total-count``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jcqnap.sandbox.jumpcloud import query as q
from jcqnap.sandbox.jumpcloud.models import JumpCloudBackend, Page

GROUP_SORTABLE = {"name", "type"}  # "sort=id" is rejected by the service [seen]
DOMAIN_SORTABLE = {"name", "sid"}


@dataclass
class ApiRequest:
    """What a handler needs from an HTTP request (``params`` are the path parameters)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _v2_list(page: Page) -> ApiResponse:
    return ApiResponse(200, page.items, {"x-total-count": str(page.total)})


# -- v1 ---------------------------------------------------------------------------------------------
def organizations_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.list_organizations())


def systemusers_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    page = b.list_users(q.parse_v1(r.query))
    return ApiResponse(200, {"totalCount": page.total, "results": page.items})


def systemusers_post(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.create_user(r.body))


def systemusers_get(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    fields = q.parse_v1({"fields": r.query.get("fields", [])}).fields
    return ApiResponse(200, b.get_user(r.params["id"], fields))


def systemusers_put(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.update_user(r.params["id"], r.body))


def systemusers_delete(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.delete_user(r.params["id"]))


# -- v2 usergroups --------------------------------------------------------------------------------
def usergroups_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return _v2_list(b.list_groups(q.parse_v2(r.query, GROUP_SORTABLE)))


def usergroups_post(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(201, b.create_group(r.body))


def usergroups_get(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.get_group(r.params["id"]))


def usergroups_put(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.replace_group(r.params["id"], r.body))


def usergroups_delete(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.delete_group(r.params["id"]))


def members_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return _v2_list(b.list_members(r.params["id"], q.paging_only(r.query)))


def members_post(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    b.change_member(r.params["id"], r.body)
    return ApiResponse(204)


def associations_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    targets = [t for raw in r.query.get("targets", []) for t in raw.split(",") if t]
    return _v2_list(b.list_associations(r.params["id"], targets, q.paging_only(r.query)))


def associations_post(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    b.change_association(r.params["id"], r.body)
    return ApiResponse(204)


# -- v2 ldapservers and sambadomains --------------------------------------------------------------
def ldapservers_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return _v2_list(b.list_ldap_servers(q.parse_v2(r.query, {"name"})))


def ldapserver_associations_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    targets = [t for raw in r.query.get("targets", []) for t in raw.split(",") if t]
    return _v2_list(b.list_server_associations(r.params["server"], targets, q.paging_only(r.query)))


def ldapservers_get(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.get_ldap_server(r.params["id"]))


def sambadomains_list(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return _v2_list(b.list_samba_domains(r.params["server"], q.parse_v2(r.query, DOMAIN_SORTABLE)))


def sambadomains_post(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(201, b.create_samba_domain(r.params["server"], r.body))


def sambadomains_get(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.get_samba_domain(r.params["server"], r.params["id"]))


def sambadomains_put(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    return ApiResponse(200, b.replace_samba_domain(r.params["server"], r.params["id"], r.body))


def sambadomains_delete(b: JumpCloudBackend, r: ApiRequest) -> ApiResponse:
    b.delete_samba_domain(r.params["server"], r.params["id"])
    return ApiResponse(204)
