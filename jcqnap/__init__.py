"""jcqnap: join QNAP NAS boxes to JumpCloud LDAP-as-a-Service, as Pulumi resources and components.

Public API (see README "Using jcqnap as a library")::

    from jcqnap import BindUser, SambaDomain, SambaGroup, LdapConfig          # the resources
    from jcqnap import SambaDirectory, SambaDirectoryArgs, NasSite, NasSiteArgs  # the components
    from jcqnap import JumpCloudConnection                                     # a second org

Names are imported on first use, so `python -m jcqnap.sandbox` and the other tools do not load the
Pulumi SDK and the providers just because they live in this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jcqnap.components import (
        BindUserArgs,
        DirectoryInfo,
        NasBox,
        NasSite,
        NasSiteArgs,
        SambaDirectory,
        SambaDirectoryArgs,
        SambaGroupArgs,
    )
    from jcqnap.connection import JumpCloudConnection
    from jcqnap.providers.bind_user import BindUser
    from jcqnap.providers.ldap_config import LdapConfig
    from jcqnap.providers.samba_domain import SambaDomain
    from jcqnap.providers.samba_group import SambaGroup

_WHERE = {
    "BindUser": "jcqnap.providers.bind_user",
    "SambaDomain": "jcqnap.providers.samba_domain",
    "SambaGroup": "jcqnap.providers.samba_group",
    "LdapConfig": "jcqnap.providers.ldap_config",
    "JumpCloudConnection": "jcqnap.connection",
    "SambaDirectory": "jcqnap.components",
    "SambaDirectoryArgs": "jcqnap.components",
    "BindUserArgs": "jcqnap.components",
    "SambaGroupArgs": "jcqnap.components",
    "DirectoryInfo": "jcqnap.components",
    "NasSite": "jcqnap.components",
    "NasSiteArgs": "jcqnap.components",
    "NasBox": "jcqnap.components",
}

__all__ = [
    "BindUser",
    "BindUserArgs",
    "DirectoryInfo",
    "JumpCloudConnection",
    "LdapConfig",
    "NasBox",
    "NasSite",
    "NasSiteArgs",
    "SambaDirectory",
    "SambaDirectoryArgs",
    "SambaDomain",
    "SambaGroup",
    "SambaGroupArgs",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jcqnap' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
