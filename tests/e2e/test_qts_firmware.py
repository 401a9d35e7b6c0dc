"""Issue 14: QTS firmware jcqnap cannot see, through the real `pulumi` CLI, on each simulated firmware variant.

Per variant (a fresh NAS simulator of that firmware, `jcqnap.sandbox.firmware`):
1. `up` with the default profile is refused before any write, naming what differs and `learn`; every
   LDAP-related file on the NAS is byte-identical afterwards;
2. `python -m jcqnap.qnap learn` around the simulated "Apply" in the QTS UI (waiting for Enter on one
   variant, `--save-before`/`--before` on the other) writes a `qtsProfile` block whose names are the
   firmware's real ones (which jcqnap never saw), and a report without passwords;
3. with that block, `up` works, an LDAP member logs in over SMB, `preview --refresh
   --expect-no-changes` exits 0, and a hand change on the NAS is drift (exit 7) that `up` repairs.
On `passdb`, `forceQtsProfile` writes the default names anyway: that firmware's apply fails and the
change is rolled back byte-for-byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from jcqnap.qnap.profile import Profile
from jcqnap.sandbox import firmware
from jcqnap.sandbox import nas as nas_sim
from tests.e2e.harness import ROOT, PulumiProject
from tests.nas_seed import Directory, seed_directory, smb_put

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
VARIANTS = [v for v in firmware.VARIANTS if v != "default"]
CONFIG_KEY = "site-e2e:qtsProfile"


@pytest.fixture
def variant_nas(request: pytest.FixtureRequest, sandbox: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A NAS simulator of the requested firmware, started for this test only."""
    state = Path(sandbox["state_dir"])
    name = f"fw-{request.param}"
    info = nas_sim.start_nas(state, name, sandbox["ldap"], firmware=request.param)
    try:
        yield info
    finally:
        nas_sim.stop_nas(state, name)


def nas_files(sandbox: dict[str, Any], nas: str) -> str:
    """sha256 of every file in /etc/config and the LDAP client's files, read inside the NAS namespace."""
    script = ("find /etc/config -type f | sort | xargs sha256sum; for f in /etc/ldap.secret /etc/nslcd.conf "
              "/etc/nsswitch.conf; do sha256sum $f 2>/dev/null || echo - $f; done")
    out = nas_sim.run_in_nas(Path(sandbox["state_dir"]), nas, ["sh", "-c", script])
    assert out.returncode == 0 and "/etc/config/uLinux.conf" in out.stdout, out.stderr
    return out.stdout


def configure(p: PulumiProject, nas: dict[str, Any], d: Directory) -> None:
    values = {
        "nasHost": nas["ssh_host"], "nasPort": str(nas["ssh_port"]), "nasUser": nas["admin_user"],
        "nasHostKey": nas["host_key"], "ldapHost": d.ldap_host, "ldapPort": str(d.ldaps_port),
        "security": "ldaps", "baseDn": d.base_dn, "rootDn": d.bind_dn, "usersBaseDn": d.users_base_dn,
        "groupsBaseDn": d.users_base_dn, "workgroup": d.workgroup, "verifyGroup": d.group,
        "caCert": Path(d.ca_cert_path).read_text(),
    }
    for key, value in values.items():
        p.config_set(key, value)
    p.config_set("nasPassword", nas["admin_password"], secret=True)
    p.config_set("rootPassword", d.bind_password, secret=True)


def learn(
    nas: dict[str, Any], d: Directory, *args: str, wait: bool = False
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    """`python -m jcqnap.qnap learn` as an admin runs it (passwords in the environment only).

    With `wait`, the process is returned running, waiting for Enter after its first snapshot.
    """
    argv = [sys.executable, "-m", "jcqnap.qnap", "learn", "--host", nas["ssh_host"], "--port", str(nas["ssh_port"]),
            "--host-key", nas["host_key"], *args]
    env = {**os.environ, "JCQNAP_NAS_PASSWORD": nas["admin_password"], "JCQNAP_BIND_PASSWORD": d.bind_password}
    if wait:
        return subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def typed(d: Directory) -> list[str]:
    return ["--ldap-host", d.ldap_host, "--ldap-port", str(d.ldaps_port), "--security", "ldaps", "--base-dn",
            d.base_dn, "--root-dn", d.bind_dn, "--users-base-dn", d.users_base_dn, "--workgroup", d.workgroup]


@pytest.mark.parametrize("variant_nas", VARIANTS, indirect=True)
def test_unseen_firmware_is_refused_then_learned_then_managed(
    variant_nas: dict[str, Any], sandbox: dict[str, Any], jc_reset: dict[str, Any],
    pulumi_project: Callable[..., PulumiProject], tmp_path: Path,
) -> None:
    nas = variant_nas
    fw = firmware.variant(nas["firmware"])
    d = seed_directory(sandbox)
    p = pulumi_project("site")
    configure(p, nas, d)

    # -- 1. the default profile does not fit: refused before any write, the NAS byte-identical ----------
    untouched = nas_files(sandbox, nas["name"])
    res = p.up()
    assert res.returncode != 0, res.output
    assert "does not fit the QTS profile, nothing was changed" in res.output, res.output
    assert "passdb backend = 'smbpasswd'" in res.output and "python -m jcqnap.qnap learn" in res.output
    assert "Traceback" not in res.output
    assert nas_files(sandbox, nas["name"]) == untouched

    if fw.name == "passdb":  # forcing the default names writes guesses: this firmware's apply fails, rolled back
        p.config_set("forceQtsProfile", "true")
        res = p.up()
        assert res.returncode != 0 and "rolled back" in res.output, res.output
        assert nas_files(sandbox, nas["name"]) == untouched
        p.run("config", "rm", "forceQtsProfile", "--stack", p.stack).check()

    # -- 2. learn around the simulated Apply in the QTS UI ---------------------------------------------
    out = tmp_path / "learn"
    form = {"host": d.ldap_host, "port": d.ldaps_port, "security": "ldaps", "base_dn": d.base_dn,
            "root_dn": d.bind_dn, "users_base_dn": d.users_base_dn, "groups_base_dn": d.users_base_dn,
            "password": d.bind_password, "workgroup": d.workgroup}
    state = Path(sandbox["state_dir"])
    if fw.name == "ensecret":  # interactive: learn waits for Enter while the admin applies in the UI
        proc = learn(nas, d, "--out", str(out), "--config-key", CONFIG_KEY, *typed(d), wait=True)
        assert isinstance(proc, subprocess.Popen) and proc.stdout is not None and proc.stdin is not None
        prompt = proc.stdout.readline()
        assert "press Enter" in prompt, prompt
        assert nas_files(sandbox, nas["name"]) == untouched  # learn only reads
        applied = nas_sim.ui_apply(state, nas["name"], form)
        stdout, stderr = proc.communicate("\n", timeout=120)
        first_out, second = prompt, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    else:  # two runs: --save-before, then --before
        first = learn(nas, d, "--save-before", str(tmp_path / "before.json"))
        assert isinstance(first, subprocess.CompletedProcess) and first.returncode == 0, first.stderr
        assert nas_files(sandbox, nas["name"]) == untouched  # learn only reads
        applied = nas_sim.ui_apply(state, nas["name"], form)
        later = learn(nas, d, "--before", str(tmp_path / "before.json"), "--out", str(out), "--config-key",
                      CONFIG_KEY, *typed(d))
        assert isinstance(later, subprocess.CompletedProcess)
        first_out, second = first.stdout, later
    assert applied.returncode == 0, applied.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    block_text = (out / "qts-profile.yaml").read_text()
    report = (out / "learn-report.txt").read_text()
    for secret in (d.bind_password, nas["admin_password"]):
        assert secret not in report and secret not in block_text and secret not in second.stdout + first_out
    block = yaml.safe_load(block_text)[CONFIG_KEY]
    learned, truth = Profile.from_overrides(block), fw.profile()
    for s in truth.settings:  # the firmware's real names, which nothing in jcqnap knew
        got = learned.setting(s.name)
        assert (got.file, got.section.casefold(), got.key.casefold()) == (s.file, s.section.casefold(),
                                                                         s.key.casefold()), s.name
    assert learned.secret_store == truth.secret_store and learned.root_secret_file == truth.root_secret_file
    assert " learned " in report and "complete: yes" in report
    verdict = "does not match" if truth.secret_store == "qts_ui" else "matches"
    assert f"jcqnap's way of storing it: {verdict}" in report, report

    # -- 3. with the learned profile: up, SMB login, no drift, drift repaired ---------------------------
    stack_file = p.dir / "stacks" / f"Pulumi.{p.stack}.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"][CONFIG_KEY] = block
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    p.up().check()
    assert p.outputs()["ldapStatus"] == "online"
    rc, smb_out = smb_put(nas, d.workgroup, d.member, d.member_password, f"{fw.name}.txt")
    assert rc == 0, smb_out
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    key = truth.setting("base_dn")
    changed = nas_sim.run_in_nas(state, nas["name"], ["/sbin/setcfg", key.section, key.key, "o=drifted,dc=example"])
    assert changed.returncode == 0, changed.stderr
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 7 and "LdapConfig" in res.output, res.output
    p.up("--refresh").check()
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    assert smb_put(nas, d.workgroup, d.member, d.member_password, f"{fw.name}-2.txt")[0] == 0
