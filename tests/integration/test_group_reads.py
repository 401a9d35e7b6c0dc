"""SambaGroup reads share two org-wide lists per refresh, and fall back to per-group GETs in a large org.

Counted through the emulator's request log: the shared path costs the two list pages once, then one
members GET per group; the fallback costs three GETs per group. Both report the same outputs.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import JumpCloudSettings
from jcqnap.jumpcloud import client as client_module
from jcqnap.providers import group_index, group_reads
from jcqnap.providers.jumpcloud_common import client, set_settings
from jcqnap.providers.samba_group import SambaGroupProvider

pytestmark = pytest.mark.integration


def gets(sandbox: dict[str, Any], query: bool = False) -> list[str]:
    hooks = sandbox["jumpcloud"]["sandbox_url"]
    log = requests.get(f"{hooks}/_sandbox/requests", timeout=10).json()
    requests.delete(f"{hooks}/_sandbox/requests", timeout=10).raise_for_status()
    return [e["path"] + (f"?{e.get('query') or ''}" if query else "") for e in log if e["method"] == "GET"]


def test_reads_share_the_group_and_binding_lists_and_fall_back_for_large_orgs(
    jc_reset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    jc = jc_reset["jumpcloud"]
    set_settings(JumpCloudSettings(api_key=jc["api_key"], api_url=jc["api_url"], org_id=jc["org_id"]))
    requests.post(f"{jc['api_url']}/v2/ldapservers/{jc['ldap_server_id']}/sambadomains",
                  json={"name": "READS", "sid": "S-1-5-21-1-2-3"}, headers={"x-api-key": jc["api_key"]},
                  timeout=10).raise_for_status()
    p = SambaGroupProvider()
    created = [p.create({"name": f"Reads {i}", "linux_name": f"reads-{i}", "gid": 5400 + i, "members": []})
               for i in range(3)]
    made = [(c.id, c.outs or {}) for c in created]
    gets(jc_reset)

    shared = [p.read(id_, outs).outs or {} for id_, outs in made]
    paths = gets(jc_reset)
    assert len(paths) == 2 + len(made), paths  # two list pages, then one members GET per group
    assert sum(path.endswith("/members") for path in paths) == len(made)
    assert all(o["bound"] and o["samba_enabled"] for o in shared)

    monkeypatch.setattr(group_reads, "MAX_GROUPS", 1)
    group_reads.invalidate()
    per_group = [p.read(id_, outs).outs for id_, outs in made]
    paths = gets(jc_reset)
    assert sum("/usergroups/" in path and path.endswith("/associations") for path in paths) == len(made), paths
    assert sum(path.endswith("/members") for path in paths) == len(made), paths  # not read twice
    assert per_group == shared

    for id_, outs in made:
        p.delete(id_, outs)
    group_reads.invalidate()
    assert all(not p.read(id_, outs).id for id_, outs in made)  # gone: the engine drops it from state
    set_settings(None)


def test_snapshot_prefetches_the_managed_groups_members_without_more_gets(jc_reset: dict[str, Any]) -> None:
    """Reads arrive 4 at a time (the dynamic provider host's pool); the first read's snapshot starts the
    members GETs of every managed group (named in the stack config), so later reads wait for nothing,
    and every members GET still happens exactly once."""
    jc = jc_reset["jumpcloud"]
    set_settings(JumpCloudSettings(api_key=jc["api_key"], api_url=jc["api_url"], org_id=jc["org_id"]))
    requests.post(f"{jc['api_url']}/v2/ldapservers/{jc['ldap_server_id']}/sambadomains",
                  json={"name": "PREFETCH", "sid": "S-1-5-21-1-2-4"}, headers={"x-api-key": jc["api_key"]},
                  timeout=10).raise_for_status()
    p = SambaGroupProvider()
    created = [p.create({"name": f"Prefetch {i}", "linux_name": f"prefetch-{i}", "gid": 5500 + i, "members": []})
               for i in range(6)]
    made = [(c.id, c.outs or {}) for c in created]
    group_reads.invalidate()
    expected = [p.read(id_, outs).outs for id_, outs in made]  # no prefetch configured: per-read members GET
    gets(jc_reset)
    # As the host does it: configure() with the stack config; 4 of the 6 managed by config (2 by linuxName).
    config = [{"name": f"Prefetch {i}"} for i in range(2)] + [{"linuxName": f"prefetch-{i}"} for i in (2, 3)]
    raw = {"jcqnap:jumpcloudApiKey": jc["api_key"], "jcqnap:jumpcloudApiUrl": jc["api_url"],
           "jcqnap:jumpcloudOrgId": jc["org_id"], "jcqnap:groups": json.dumps(config)}
    p.configure(ConfigureRequest(Config(raw, "jcqnap")))
    try:
        group_reads.invalidate()
        first = p.read(*made[0]).outs
        with client() as c:  # the fresh snapshot (no new GET); its prefetch may still be in flight
            snap = group_reads.snapshot(c, jc["ldap_server_id"])
        assert set(snap.members) == {id_ for id_, _ in made[:4]}
        wait(list(snap.members.values()), timeout=60)
        paths = gets(jc_reset)
        prefetched = {path.split("/")[-2] for path in paths if path.endswith("/members")}
        assert prefetched == {id_ for id_, _ in made[:4]}, paths  # all 4 managed, after one read
        with ThreadPoolExecutor(max_workers=4) as pool:
            rest = list(pool.map(lambda m: p.read(*m).outs, made[1:]))
        paths = gets(jc_reset)
        # Only the 2 groups outside the config GET their own members; nothing is read twice.
        assert sorted(path.split("/")[-2] for path in paths) == sorted(id_ for id_, _ in made[4:]), paths
        assert [first, *rest] == expected
    finally:
        group_reads.set_managed([])
        for id_, outs in made:
            p.delete(id_, outs)
        set_settings(None)


def test_listing_pays_off_only_up_to_one_page_per_managed_group(
    jc_reset: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 2 (so a handful of groups makes several pages): listing is chosen while the groups list
    has no more pages than the stack manages groups, and then its pages come side by side, each once;
    otherwise reads go per group after the first pages."""
    jc = jc_reset["jumpcloud"]
    set_settings(JumpCloudSettings(api_key=jc["api_key"], api_url=jc["api_url"], org_id=jc["org_id"]))
    requests.post(f"{jc['api_url']}/v2/ldapservers/{jc['ldap_server_id']}/sambadomains",
                  json={"name": "PAGES", "sid": "S-1-5-21-1-2-5"}, headers={"x-api-key": jc["api_key"]},
                  timeout=10).raise_for_status()
    p = SambaGroupProvider()
    made = [(c.id, c.outs or {}) for c in (
        p.create({"name": f"Pages {i}", "linux_name": f"pages-{i}", "gid": 5600 + i, "members": []}) for i in range(5))]
    group_reads.invalidate()
    expected = [p.read(id_, outs).outs for id_, outs in made]
    monkeypatch.setattr(client_module, "PAGE", 2)
    monkeypatch.setattr(group_reads, "PAGE", 2)
    try:
        for managed, listed in ((3, True), (2, False)):  # 5 groups = 3 pages of 2
            group_reads.set_managed([[f"Pages {i}"] for i in range(managed)])
            group_reads.invalidate()
            gets(jc_reset)
            assert [p.read(id_, outs).outs for id_, outs in made] == expected
            paths = gets(jc_reset, query=True)
            pages = [path for path in paths if "/v2/usergroups?" in path]
            if listed:
                assert len(pages) == 3 and len(set(paths)) == len(paths), paths  # every page, each once
            else:
                assert len(pages) == 1, paths  # the first page told the total; then per group
                assert sum(f"/v2/usergroups/{id_}?" in path for id_, _ in made for path in paths) == 5
    finally:
        group_reads.set_managed([])
        for id_, outs in made:
            p.delete(id_, outs)
        set_settings(None)


def test_creates_share_one_listing_of_the_org_and_still_see_what_changed_since(jc_reset: dict[str, Any]) -> None:
    """New groups cost no listing each: one listing serves every create of the process. A group that
    appears after the listing is still adopted (its state says so, so destroy leaves it); one deleted
    after the listing no longer counts as a clash."""
    jc = jc_reset["jumpcloud"]
    api, headers = jc["api_url"], {"x-api-key": jc["api_key"]}
    set_settings(JumpCloudSettings(api_key=jc["api_key"], api_url=api, org_id=jc["org_id"]))
    requests.post(f"{api}/v2/ldapservers/{jc['ldap_server_id']}/sambadomains",
                  json={"name": "INDEX", "sid": "S-1-5-21-1-2-6"}, headers=headers, timeout=10).raise_for_status()
    group_index.invalidate()
    p = SambaGroupProvider()
    made: list[tuple[str, dict[str, Any]]] = []
    try:
        gets(jc_reset)
        for i in range(3):
            c = p.create({"name": f"Index {i}", "linux_name": f"index-{i}", "gid": 5700 + i, "members": []})
            made.append((c.id, c.outs or {}))
        paths = gets(jc_reset, query=True)
        assert sum("/v2/usergroups?" in path for path in paths) == 1, paths  # one listing, not one per create
        assert all(outs["adoption"] == "created" for _, outs in made)

        # Made by hand after the listing: the POST finds it, and it is adopted, not "created".
        requests.post(f"{api}/v2/usergroups", headers=headers, timeout=10, json={
            "name": "Index hand", "attributes": {"posixGroups": [{"id": 5710, "name": "index-hand"}]}},
        ).raise_for_status()
        hand = p.create({"name": "Index hand", "linux_name": "index-hand", "gid": 5710, "members": []})
        made.append((hand.id, hand.outs or {}))
        assert (hand.outs or {})["adopted"] is True

        # A clash with a group of this process is refused before any write...
        with pytest.raises(JcqnapError, match="already has Linux group"):
            p.create({"name": "Index clash", "linux_name": "index-clash", "gid": 5700, "members": []})
        # ...but not once that group is gone behind the listing's back.
        requests.delete(f"{api}/v2/usergroups/{made[0][0]}", headers=headers, timeout=10).raise_for_status()
        again = p.create({"name": "Index clash", "linux_name": "index-clash", "gid": 5700, "members": []})
        made[0] = (again.id, again.outs or {})
    finally:
        group_reads.set_managed([])
        for id_, outs in made:
            p.delete(id_, {**outs, "delete_adopted": True})
        set_settings(None)
