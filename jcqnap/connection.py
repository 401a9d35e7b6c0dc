"""`JumpCloudConnection`: which JumpCloud org a resource or component manages.

Without one, the JumpCloud resources use the stack config (`jcqnap:jumpcloudApiKey`,
`jcqnap:jumpcloudApiUrl`, `jcqnap:jumpcloudOrgId`, or `jcqnap:sandbox`). With one, they use it
instead, so one Pulumi program can manage two orgs:

    org_b = JumpCloudConnection(api_key=cfg.require_secret("orgBApiKey"), org_id="5f...")
    SambaDirectory("org-b", SambaDirectoryArgs(..., connection=org_b))

The connection reaches the dynamic provider as the resource input `connection`, always wrapped as a
secret, and the engine stores it (in inputs and outputs) as ciphertext only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class JumpCloudConnection:
    """An org's API endpoint and key. `api_key` should be a secret (`Config.require_secret`).

    `api_url`: None for JumpCloud's default console API, "eu" for the EU console, or a URL.
    `org_id`: sent as `x-org-id` (multi-tenant admin keys); None lets the key's only org be used.
    `timeout`: read timeout in seconds of each call (default 30).
    """

    api_key: pulumi.Input[str]
    api_url: pulumi.Input[str] | None = None
    org_id: pulumi.Input[str] | None = None
    timeout: float | None = None

    def as_input(self) -> pulumi.Output[Any]:
        """The secret resource input the JumpCloud providers read."""
        return pulumi.Output.secret(
            {"api_key": self.api_key, "api_url": self.api_url, "org_id": self.org_id, "timeout": self.timeout}
        )


def connection_input(connection: JumpCloudConnection | None) -> pulumi.Output[Any] | None:
    """The `connection` input of a JumpCloud resource: None keeps the stack config's connection."""
    return connection.as_input() if connection is not None else None


def secret_outputs(opts: pulumi.ResourceOptions | None, *names: str) -> pulumi.ResourceOptions:
    """`opts` plus `additional_secret_outputs` for `names` (and the connection, always)."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=[*names, "connection"])
    )
