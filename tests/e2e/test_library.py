"""jcqnap as a library (issue 17): the components from another Pulumi program, two orgs in one program,
and an existing stack moving under the components with no change.

* examples/two-orgs runs up, a clean refreshed preview and destroy against the sandbox with two
  emulator orgs: org A through the stack config, org B through an explicit JumpCloudConnection.
* A stack deployed with the pre-component composition (projects/legacy, every resource at the top
  level) previews with today's __main__.py with every resource unchanged (the aliases carry them
  under the components; only the two components themselves are new), `up` writes nothing to
  JumpCloud, and the stack is clean (`--expect-no-changes`) from then on.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from jcqnap import demo
from tests.e2e.aio import Emulator, base_config
from tests.e2e.harness import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EXAMPLE = ROOT / "examples" / "two-orgs"
LEGACY = Path(__file__).parent / "projects" / "legacy" / "__main__.py"


class OrgB(Emulator):
    """The second emulator org, reached with its own key."""

    def __init__(self, sandbox: dict[str, Any]) -> None:
        super().__init__(sandbox)
        self.key = secrets.token_hex(20)
        res = requests.post(f"{self.hooks}/_sandbox/orgs", json={"api_key": self.key}, timeout=10)
        res.raise_for_status()
        self.org_id = str(res.json()["org_id"])
        self.ldap_id = str(res.json()["ldap_server_id"])
        self.s.headers["x-api-key"] = self.key


def unchanged(output: str) -> int:
    found = re.search(r"(\d+) unchanged", output)
    return int(found.group(1)) if found else -1


def test_two_orgs_example_up_clean_preview_destroy(jc_reset: dict[str, Any], pulumi_project: Any) -> None:
    sandbox = jc_reset
    demo.seed_demo_users(sandbox)
    org_a, org_b = Emulator(sandbox), OrgB(sandbox)
    nas = next(n for n in sandbox["nas"] if n["name"] == "site-b")
    p = pulumi_project(EXAMPLE)
    # The copy gets its own .venv link (harness); the example itself names the repository's venv.
    pulumi_yaml = p.dir / "Pulumi.yaml"
    pulumi_yaml.write_text(pulumi_yaml.read_text().replace("virtualenv: ../../.venv", "virtualenv: .venv"))
    ldap = sandbox["ldap"]
    project = "jcqnap-two-orgs"
    (p.dir / f"Pulumi.{p.stack}.yaml").write_text(yaml.safe_dump({"config": {
        "jcqnap:sandbox": str(Path(sandbox["state_dir"]) / "sandbox.json"),
        f"{project}:orgBApiUrl": sandbox["jumpcloud"]["api_url"],
        f"{project}:orgBOrgId": org_b.org_id,
        f"{project}:ldap": {"host": "127.0.0.1", "port": ldap["ldaps_port"], "security": "ldaps",
                            "caCertFile": ldap["ca_cert"]},
        f"{project}:nas": [{"name": "office-nas", "host": nas["ssh_host"], "port": nas["ssh_port"],
                            "user": nas["admin_user"], "hostKey": nas["host_key"]}],
        f"{project}:hqMembers": ["alice"],
    }}))
    p.config_set("orgBApiKey", org_b.key, secret=True)
    p.config_set("nasPasswords.office-nas", nas["admin_password"], secret=True, path=True)
    try:
        up = p.up()
        up.check()
        # Each org holds its own directory, and only its own.
        assert org_a.groups() == ["HQ Staff"] and org_b.groups() == ["Lab Staff"]
        assert "samba-hq" in org_a.users() and "samba-lab" not in org_a.users()
        assert org_b.users() == ["samba-lab"]
        assert org_a.domains() == ["HQ"] and org_b.domains() == ["LAB"]
        outputs = p.outputs()
        assert org_b.org_id in outputs["labBindDn"] and sandbox["jumpcloud"]["org_id"] in outputs["hqBindDn"]
        assert outputs["officeNas"]["office-nas"]
        state = p.export_text()
        assert org_b.key not in state and sandbox["jumpcloud"]["api_key"] not in state
        assert nas["admin_password"] not in state
        # Clean: a refreshed preview (reads through both connections) proposes nothing.
        clean = p.preview("--refresh", "--expect-no-changes")
        assert clean.returncode == 0, clean.output
        assert unchanged(clean.output) >= 8, clean.output
    finally:
        down = p.destroy()
    assert down.returncode == 0, down.output
    assert org_a.groups() == [] and org_b.groups() == [] and org_b.users() == []


def test_stack_from_before_the_components_upgrades_with_no_change(
    jc_reset: dict[str, Any], pulumi_project: Any
) -> None:
    sandbox = jc_reset
    demo.seed_demo_users(sandbox)
    p = pulumi_project(ROOT)
    main = p.dir / "__main__.py"
    today = main.read_text()
    shutil.copy(LEGACY, main)
    stack_file = p.dir / "stacks" / f"Pulumi.{p.stack}.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {
        **base_config(sandbox), "jcqnap:nas": [{"name": "site-b", "sandbox": "site-b"}],
    }}))
    try:
        p.up().check()
        before = p.export()["deployment"]["resources"]
        assert any(r["urn"].endswith("::workgroup") for r in before)
        main.write_text(today)
        # Today's code: the five resources are unchanged; only the two components are new (they hold
        # nothing real). No update, replacement or delete.
        res = p.preview("--diff")
        assert res.returncode == 0, res.output
        assert unchanged(res.output) == 6, res.output  # 5 resources + the stack
        assert re.search(r"\+ 2 to create", res.output), res.output
        assert len(re.findall(r"^\s*\+ jcqnap:index:(SambaDirectory|NasSite)", res.output, re.M)) == 2, res.output
        assert not re.search(r"to (update|replace|delete)|[+-]/?[+-]? *pulumi-python:dynamic", res.output), res.output
        jc = Emulator(sandbox)
        jc.clear_log()
        up = p.up().check()
        assert not re.search(r"\d+ (updated|replaced|deleted)", up.output), up.output
        assert [r for r in jc.log() if r["method"] != "GET"] == []  # not one JumpCloud write
        after = {r["urn"].rsplit("::", 1)[1]: r for r in p.export()["deployment"]["resources"]}
        assert after["directory-workgroup"]["parent"].endswith("::directory")
        assert after["site-site-b"]["parent"].endswith("::site")
        ids = {r["type"] + r.get("id", "") for r in before if r.get("id")}
        assert ids == {r["type"] + r.get("id", "") for r in after.values() if r.get("id")}
        # From here on the upgraded stack is clean.
        clean = p.preview("--expect-no-changes")
        assert clean.returncode == 0, clean.output
    finally:
        main.write_text(today)
        down = p.destroy()
    assert down.returncode == 0, down.output
