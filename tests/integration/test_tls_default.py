"""Issue 9, TLS by default: a server certificate not signed by the *configured* CA is refused.

On the NAS, the LDAP client (nslcd) and smbd trust the CA LdapConfig installs (the profile's
`ca_cert` file) and only fall back to the NAS's own store when none is configured; a wrong `ca_cert`
makes verification fail and the NAS rolls back, byte-identical.

test_ldapcheck.py covers "no CA configured" (system store); here the configured CA is a real but
different CA, made with `cryptography`. Plain LDAP needing an explicit allow_insecure is covered at
check level by tests/unit/test_config.py and test_ldap_config_check.py; here it is shown on a real
NAS: without the flag nothing is touched, with it the plain settings go out and, because the
directory (like JumpCloud) refuses simple binds without TLS, verification fails and rolls back.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jcqnap.ldapcheck import LdapCheckError, can_bind, check_directory
from jcqnap.providers.ldap_config import LdapConfigProvider
from jcqnap.qnap.apply import ApplyFailed
from tests.integration.test_qnap_ssh import NAS, inputs, nas_files
from tests.nas_seed import Directory, seed_directory

pytestmark = pytest.mark.integration


def other_ca(path: Path) -> str:
    """A self-signed CA that signed nothing the sandbox serves; written to `path`, PEM returned."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not The Sandbox CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    path.write_text(pem)
    return pem


@pytest.fixture(scope="module")
def directory(sandbox: dict[str, Any]) -> Directory:
    return seed_directory(sandbox)


@pytest.fixture
def nas(sandbox: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in sandbox["nas"] if n["name"] == NAS)


@pytest.mark.parametrize("uri_key", ["uri", "starttls_uri"])
def test_ldapcheck_refuses_a_server_not_signed_by_the_configured_ca(
    sandbox: dict[str, Any], directory: Directory, tmp_path: Path, uri_key: str
) -> None:
    d, ldap = directory, sandbox["ldap"]
    wrong = tmp_path / "other-ca.pem"
    other_ca(wrong)
    # Control: the configured sandbox CA works on the same URI.
    assert check_directory(ldap[uri_key], d.bind_dn, d.bind_password, d.base_dn, d.ca_cert_path).can_search
    with pytest.raises(LdapCheckError) as err:
        check_directory(ldap[uri_key], d.bind_dn, d.bind_password, d.base_dn, str(wrong))
    assert d.bind_password not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(LdapCheckError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        can_bind(ldap[uri_key], d.bind_dn, d.bind_password, str(wrong))


def test_nas_refuses_a_server_not_signed_by_the_configured_ca(
    sandbox: dict[str, Any], directory: Directory, nas: dict[str, Any], tmp_path: Path
) -> None:
    before = nas_files(sandbox)
    props = inputs(nas, directory, ca_cert=other_ca(tmp_path / "other-ca.pem"))
    with pytest.raises(ApplyFailed) as err:
        LdapConfigProvider().create(props)
    assert "rolled back" in str(err.value), str(err.value)
    assert directory.bind_password not in str(err.value)
    assert nas_files(sandbox) == before


def test_plain_ldap_only_with_allow_insecure(sandbox: dict[str, Any], directory: Directory,
                                             nas: dict[str, Any]) -> None:
    before = nas_files(sandbox)
    plain = {"security": "ldap", "ldap_port": directory.starttls_port}
    refused = LdapConfigProvider().check({}, {**inputs(nas, directory), **plain})
    assert [f.property for f in refused.failures] == ["security"]
    assert "allow_insecure" in refused.failures[0].reason or "clear" in refused.failures[0].reason
    assert nas_files(sandbox) == before
    props = inputs(nas, directory, allow_insecure=True, **plain)  # check passes with the flag
    with pytest.raises(ApplyFailed) as err:
        LdapConfigProvider().create(props)
    # jcqnap sent plain LDAP; the directory refused the clear-text bind, so verify failed and rolled back.
    assert "rolled back" in str(err.value), str(err.value)
    assert nas_files(sandbox) == before
