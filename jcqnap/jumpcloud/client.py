"""The JumpCloud REST client: one session, urllib3 retries, paging generators, typed errors.

Shaped after requests/urllib3: retries, backoff with jitter and `Retry-After` live in an
`HTTPAdapter(max_retries=Retry(...))`, nothing hand-rolled. A client holds a live session, so it is
built per provider call from plain `JumpCloudSettings` and never stored on a pickled provider.

Retrying a POST is what makes 429s survivable, but a POST whose first attempt reached the service
may have created the object. Every create therefore recovers by name: when the POST answers
"already exists" (or fails after all retries) the client looks the object up and returns it when it
matches what was asked for, flagged `adopted`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util import Retry

from jcqnap.errors import redact
from jcqnap.jumpcloud import errors as e

DEFAULT_API_URL = "https://console.jumpcloud.com/api"
EU_API_URL = "https://console.eu.jumpcloud.com/api"
PAGE = 100
RETRY_STATUSES = (429, 500, 502, 503, 504)
JSONObj = dict[str, Any]


@dataclass(frozen=True)
class JumpCloudSettings:
    """Plain connection settings (picklable; the key is kept out of repr)."""

    api_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    org_id: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 8
    backoff_factor: float = 0.5
    backoff_jitter: float = 0.5
    backoff_max: float = 20.0


@dataclass
class Created:
    """The object a create returned, and whether it already existed (adopted by name)."""

    obj: JSONObj
    adopted: bool


def object_id(obj: Mapping[str, Any]) -> str:
    """v1 objects carry `_id`, v2 objects `id`; some clients see either."""
    return str(obj.get("_id") or obj.get("id") or "")


class JumpCloudClient:
    """One method per JumpCloud operation jcqnap needs. Use as a context manager to close the session."""

    def __init__(self, settings: JumpCloudSettings, secrets: list[str] | None = None) -> None:
        self.settings = settings
        self._base = settings.api_url.rstrip("/")
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        # Redacted from every message this client raises: the key plus passwords it was handed.
        self._secrets: list[str | None] = [settings.api_key, *(secrets or [])]
        self._session = requests.Session()
        retry = Retry(
            total=settings.retries,
            connect=settings.retries,
            read=settings.retries,
            status=settings.retries,
            redirect=0,
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "PUT", "POST", "DELETE"}),
            backoff_factor=settings.backoff_factor,
            backoff_jitter=settings.backoff_jitter,
            backoff_max=settings.backoff_max,
            respect_retry_after_header=True,
            retry_after_max=120,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "x-api-key": settings.api_key,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "jcqnap",
            }
        )
        if settings.org_id:
            self._session.headers["x-org-id"] = settings.org_id

    def __enter__(self) -> JumpCloudClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def add_secret(self, secret: str | None) -> None:
        """Also redact `secret` (e.g. a password about to be sent) from error messages."""
        if secret:
            self._secrets.append(secret)

    # -- transport -------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> requests.Response:
        try:
            resp = self._session.request(
                method,
                self._base + path,
                params=params,
                data=None if body is None else json.dumps(body),
                timeout=self._timeout,
                # requests would forward x-api-key to whatever host a redirect names.
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise e.Timeout(method, path, "no answer within the timeout") from exc
        except requests.exceptions.RetryError as exc:
            raise e.ServerError(method, path, "retries exhausted") from exc
        except requests.ConnectionError as exc:
            # Once retries are used up, requests reports a read timeout as a ConnectionError.
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            if isinstance(reason, ReadTimeoutError):
                raise e.Timeout(method, path, "no answer within the timeout, after retries") from exc
            raise e.Unreachable(method, path, f"cannot connect to {self._host()}") from exc
        if resp.status_code >= 300:
            raise self._error(method, path, resp)
        return resp

    def _host(self) -> str:
        return urlsplit(self._base).netloc

    def _error(self, method: str, path: str, resp: requests.Response) -> e.JumpCloudError:
        status = resp.status_code
        message, fld = _error_message(resp)
        message = redact(message, self._secrets) or resp.reason or "error"
        if status == 404:
            return e.NotFound(method, path, message, status)
        if "already exist" in message.lower():
            return e.AlreadyExists(method, path, message, status)
        if status in (401, 403):
            return e.AuthError(method, path, message, status)
        if status == 409:
            return e.Conflict(method, path, message, status)
        if status == 429:
            return e.RateLimited(method, path, message, status)
        if status >= 500:
            return e.ServerError(method, path, message, status)
        if status in (400, 422):
            return e.ValidationError(method, path, message, status, field=fld)
        return e.JumpCloudError(method, path, message, status)

    def _json(self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        resp = self._request(method, path, params, body)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise e.JumpCloudError(method, path, "the answer is not JSON", resp.status_code) from exc

    def _page_v1(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[JSONObj]:
        """v1 paging: `{"totalCount", "results"}`, `limit`/`skip` until totalCount is reached."""
        skip = 0
        while True:
            data = self._json("GET", path, {**(params or {}), "limit": PAGE, "skip": skip})
            if isinstance(data, list):  # single-tenant /organizations may answer a bare array
                yield from data
                return
            results = (data or {}).get("results") or []
            yield from results
            skip += len(results)
            total = (data or {}).get("totalCount")
            if not results or (isinstance(total, int) and skip >= total):
                return

    def _page_v2(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[JSONObj]:
        """v2 paging: bare arrays, the total in the `x-total-count` header, `limit`/`skip`."""
        skip = 0
        while True:
            resp = self._request("GET", path, {**(params or {}), "limit": PAGE, "skip": skip})
            results = resp.json() if resp.content else []
            yield from results
            skip += len(results)
            total = resp.headers.get("x-total-count")
            if not results or (total is not None and total.isdigit() and skip >= int(total)):
                return
            if total is None and len(results) < PAGE:
                return

    def _page_at(self, path: str, params: Mapping[str, Any] | None, skip: int) -> tuple[list[JSONObj], int | None]:
        """One v2 page at `skip`, and the total from `x-total-count` (None when the service omits it)."""
        resp = self._request("GET", path, {**(params or {}), "limit": PAGE, "skip": skip})
        total = resp.headers.get("x-total-count")
        return (list(resp.json()) if resp.content else []), (int(total) if total and total.isdigit() else None)

    def _create(
        self,
        path: str,
        body: JSONObj,
        find: Callable[[], JSONObj | None],
        matches: Callable[[JSONObj], bool],
        what: str,
    ) -> Created:
        """POST `body`; on "already exists" or a failure after retries, adopt the object by name."""
        try:
            return Created(self._json("POST", path, body=body), adopted=False)
        except (e.AlreadyExists, e.ServerError, e.RateLimited, e.Timeout) as exc:
            existing = find()
            if existing is None:
                raise
            if not matches(existing):
                raise e.AlreadyExists(
                    "POST",
                    path,
                    f"{what} already exists and does not match",
                    exc.status,
                    "rename it in the stack, or change or remove the existing one in JumpCloud",
                ) from exc
            return Created(existing, adopted=True)

    def _delete(self, path: str) -> None:
        """DELETE; an object that is already gone counts as deleted."""
        try:
            self._json("DELETE", path)
        except e.NotFound:
            pass

    def _graph_change(self, path: str, body: JSONObj) -> None:
        """POST a graph op; adding what exists, or removing what is gone, counts as done."""
        try:
            self._json("POST", path, body=body)
        except e.AlreadyExists:
            if body["op"] != "add":
                raise
        except e.NotFound:
            if body["op"] != "remove":
                raise

    # -- organizations (v1) ----------------------------------------------------------------

    def list_organizations(self) -> Iterator[JSONObj]:
        return self._page_v1("/organizations", {"fields": "_id displayName"})

    def org_id(self) -> str:
        """The configured org id, or the only org this key sees."""
        if self.settings.org_id:
            return self.settings.org_id
        orgs = [object_id(o) for o in self.list_organizations()]
        if len(orgs) != 1:
            raise e.JumpCloudError(
                "GET",
                "/organizations",
                f"the API key sees {len(orgs)} organizations",
                fix="set `pulumi config set jcqnap:jumpcloudOrgId <orgId>`",
            )
        return orgs[0]

    # -- system users (v1) -----------------------------------------------------------------

    def list_users(self, username: str | None = None, fields: str | None = None) -> Iterator[JSONObj]:
        params: dict[str, Any] = {"sort": "username"}
        if username is not None:
            params["filter"] = f"username:$eq:{username}"
        if fields:
            params["fields"] = fields
        return self._page_v1("/systemusers", params)

    def find_user(self, username: str) -> JSONObj | None:
        return next((u for u in self.list_users(username) if u.get("username") == username), None)

    def usernames_by_id(self) -> dict[str, str]:
        """Every user's id → username, in one paged listing."""
        return {object_id(u): str(u.get("username")) for u in self.list_users(fields="_id username")}

    def get_user(self, user_id: str) -> JSONObj:
        return dict(self._json("GET", f"/systemusers/{user_id}"))

    def create_user(self, body: JSONObj) -> Created:
        """Create a system user; adopt an existing one with the same username and email."""
        self.add_secret(body.get("password"))
        username = str(body["username"])
        email = str(body.get("email", "")).lower()
        return self._create(
            "/systemusers",
            body,
            lambda: self.find_user(username),
            lambda u: str(u.get("email", "")).lower() == email,
            f"user {username!r} (with a different email)",
        )

    def update_user(self, user_id: str, body: JSONObj) -> JSONObj:
        """PUT merges: omitted fields keep their values."""
        self.add_secret(body.get("password"))
        return dict(self._json("PUT", f"/systemusers/{user_id}", body=body))

    def delete_user(self, user_id: str) -> None:
        self._delete(f"/systemusers/{user_id}")

    # -- LDAP directory and Samba domains (v2) ----------------------------------------------

    def list_ldap_servers(self) -> list[JSONObj]:
        return list(self._page_v2("/v2/ldapservers"))

    def ldap_server_id(self) -> str:
        """The org's one LDAP directory."""
        servers = self.list_ldap_servers()
        if len(servers) != 1:
            raise e.JumpCloudError(
                "GET",
                "/v2/ldapservers",
                f"expected exactly one LDAP directory, found {len(servers)}",
                fix="enable JumpCloud LDAP (Directory Integrations > LDAP) for this org",
            )
        return object_id(servers[0])

    def list_samba_domains(self, ldap_id: str) -> list[JSONObj]:
        return list(self._page_v2(f"/v2/ldapservers/{ldap_id}/sambadomains"))

    def get_samba_domain(self, ldap_id: str, domain_id: str) -> JSONObj:
        return dict(self._json("GET", f"/v2/ldapservers/{ldap_id}/sambadomains/{domain_id}"))

    def create_samba_domain(self, ldap_id: str, name: str, sid: str, sid_given: bool = True) -> Created:
        """Create the workgroup; adopt one with the same name (and the same SID when one was given)."""
        path = f"/v2/ldapservers/{ldap_id}/sambadomains"
        body: JSONObj = {"name": name, "sid": sid}
        return self._create(
            path,
            body,
            lambda: next((d for d in self.list_samba_domains(ldap_id) if d.get("name") == name), None),
            lambda d: not sid_given or d.get("sid") == sid,
            f"Samba domain {name!r} (with a different SID)",
        )

    def update_samba_domain(self, ldap_id: str, domain_id: str, name: str, sid: str) -> JSONObj:
        body = {"name": name, "sid": sid}
        return dict(self._json("PUT", f"/v2/ldapservers/{ldap_id}/sambadomains/{domain_id}", body=body))

    def delete_samba_domain(self, ldap_id: str, domain_id: str) -> None:
        self._delete(f"/v2/ldapservers/{ldap_id}/sambadomains/{domain_id}")

    # -- user groups (v2) ------------------------------------------------------------------

    def list_user_groups(self, name: str | None = None) -> Iterator[JSONObj]:
        params: dict[str, Any] = {"sort": "name"}
        if name is not None:
            params["filter"] = f"name:eq:{name}"
        return self._page_v2("/v2/usergroups", params)

    def user_groups_page(self, skip: int) -> tuple[list[JSONObj], int | None]:
        """One page of `list_user_groups()` (same order) and the org's group count, for parallel paging."""
        return self._page_at("/v2/usergroups", {"sort": "name"}, skip)

    def find_user_group(self, name: str) -> JSONObj | None:
        return next((g for g in self.list_user_groups(name) if g.get("name") == name), None)

    def get_user_group(self, group_id: str) -> JSONObj:
        return dict(self._json("GET", f"/v2/usergroups/{group_id}"))

    def create_user_group(self, body: JSONObj, matches: Callable[[JSONObj], bool]) -> Created:
        """Create a user group; adopt one with the same name when `matches(existing)`."""
        name = str(body["name"])
        return self._create(
            "/v2/usergroups",
            body,
            lambda: self.find_user_group(name),
            matches,
            f"user group {name!r} (with a different Linux name or GID)",
        )

    def put_user_group(self, group_id: str, group: JSONObj) -> JSONObj:
        """PUT is a full replace: send the whole (merged) object minus read-only fields."""
        body = {k: v for k, v in group.items() if k not in ("id", "_id", "type", "suggestionCounts")}
        return dict(self._json("PUT", f"/v2/usergroups/{group_id}", body=body))

    def delete_user_group(self, group_id: str) -> None:
        self._delete(f"/v2/usergroups/{group_id}")

    def list_group_member_ids(self, group_id: str) -> list[str]:
        """Direct user members, across all pages."""
        return [
            str(c["to"]["id"])
            for c in self._page_v2(f"/v2/usergroups/{group_id}/members")
            if (c.get("to") or {}).get("type", "user") == "user"
        ]

    def change_group_member(self, group_id: str, op: str, user_id: str) -> None:
        """Add or remove a member; "already a member" and "already gone" both count as done."""
        self._graph_change(f"/v2/usergroups/{group_id}/members", {"op": op, "type": "user", "id": user_id})

    def list_group_association_ids(self, group_id: str, target: str) -> list[str]:
        return [
            str(c["to"]["id"])
            for c in self._page_v2(f"/v2/usergroups/{group_id}/associations", {"targets": target})
        ]

    def list_ldap_server_group_ids(self, ldap_id: str) -> list[str]:
        """Ids of the user groups bound to LDAP directory `ldap_id`, across all pages."""
        return [
            str(c["to"]["id"])
            for c in self._page_v2(f"/v2/ldapservers/{ldap_id}/associations", {"targets": "user_group"})
        ]

    def ldap_server_group_ids_page(self, ldap_id: str, skip: int) -> tuple[list[str], int | None]:
        """One page of `list_ldap_server_group_ids()` and the number of bound groups, for parallel paging."""
        items, total = self._page_at(f"/v2/ldapservers/{ldap_id}/associations", {"targets": "user_group"}, skip)
        return [str(c["to"]["id"]) for c in items], total

    def change_group_association(self, group_id: str, op: str, target: str, target_id: str) -> None:
        """Bind or unbind; "already bound" and "already unbound" both count as done."""
        self._graph_change(f"/v2/usergroups/{group_id}/associations", {"op": op, "type": target, "id": target_id})


def _error_message(resp: requests.Response) -> tuple[str, str | None]:
    """The service's own message (one line, bounded) and the field it blames, if any."""
    try:
        data = resp.json()
    except ValueError:
        return " ".join(resp.text.split())[:200], None
    if not isinstance(data, dict):
        return "", None
    message = str(data.get("message") or data.get("error") or data.get("status") or "")
    fld: str | None = None
    for detail in data.get("details") or []:
        if isinstance(detail, dict):
            fld = fld or detail.get("field") or detail.get("path") or detail.get("key")
            extra = detail.get("message") or detail.get("reason")
            if extra and str(extra) not in message:
                message = f"{message}: {extra}" if message else str(extra)
    return " ".join(message.split())[:300], (str(fld) if fld else None)
