"""A file-backed dynamic resource built on jcqnap's provider base, for the engine e2e test only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from jcqnap.providers.base import JcqnapProvider, diff_fields, failure

FIELDS = ["path", "content", "token"]


class FileProvider(JcqnapProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not str(news.get("path", "")).startswith("/"):
            failures.append(failure("path", "must be an absolute path; set it to /tmp/..."))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_fields(olds, news, FIELDS, replace_on=["path"])

    def create(self, props: dict[str, Any]) -> CreateResult:
        Path(props["path"]).write_text(props["content"])
        # The token is stored only as a hash on disk, as a real service would.
        Path(props["path"] + ".tokenlen").write_text(str(len(props["token"])))
        return CreateResult(props["path"], {k: props[k] for k in FIELDS})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not os.path.exists(id_):
            return ReadResult(None, {})
        outs = dict(props)
        outs["content"] = Path(id_).read_text()
        return ReadResult(id_, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        Path(news["path"]).write_text(news["content"])
        return UpdateResult({k: news[k] for k in FIELDS})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        for p in (id_, id_ + ".tokenlen"):
            if os.path.exists(p):
                os.remove(p)


class File(Resource, module="test", name="File"):
    content: pulumi.Output[str]

    def __init__(self, name: str, path: str, content: str, token: pulumi.Input[str]) -> None:
        super().__init__(FileProvider(), name, {"path": path, "content": content, "token": token})
