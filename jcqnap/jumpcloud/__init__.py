"""JumpCloud REST client (v1 system users, v2 user groups, LDAP directory and Samba domains)."""

from jcqnap.jumpcloud.client import (
    DEFAULT_API_URL,
    EU_API_URL,
    Created,
    JumpCloudClient,
    JumpCloudSettings,
    object_id,
)
from jcqnap.jumpcloud.errors import (
    AlreadyExists,
    AuthError,
    Conflict,
    JumpCloudError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unreachable,
    ValidationError,
)

__all__ = [
    "DEFAULT_API_URL",
    "EU_API_URL",
    "AlreadyExists",
    "AuthError",
    "Conflict",
    "Created",
    "JumpCloudClient",
    "JumpCloudError",
    "JumpCloudSettings",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Timeout",
    "Unreachable",
    "ValidationError",
    "object_id",
]
