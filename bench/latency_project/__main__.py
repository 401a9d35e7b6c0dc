"""The latency-bound stack: the shape of a jcqnap stack (workgroup, bind user, groups depending on
the workgroup, one NAS resource per NAS fed from the bind user's output), every resource a `Probe`
that reads exactly one object: one GET of a JumpCloud object jcqnap manages, or one SSH command
(`true`) on a NAS simulator. The objects are the bench's jcqnap stack's own (its state's ids)."""

import json

import pulumi
from latency_provider import Probe

cfg = pulumi.Config()
sandbox = cfg.require("sandbox")
objects = json.loads(cfg.require("objects"))  # {"domain": path, "user": path, "groups": [path, ...]}
nas = cfg.get_int("nas") or 0

domain = Probe("workgroup", {"sandbox": sandbox, "get": objects["domain"], "workgroup": "LATENCY"})
bind = Probe("samba-service-account", {"sandbox": sandbox, "get": objects["user"],
                                       "dn": "uid=latency-bind,ou=Users,o=latency,dc=jumpcloud,dc=com"})
for i, path in enumerate(objects["groups"]):
    Probe(f"group-{i:03d}", {"sandbox": sandbox, "get": path}, opts=pulumi.ResourceOptions(depends_on=[domain]))
for n in range(nas):
    Probe(f"nas-{n}", {"sandbox": sandbox, "ssh": n, "root_dn": bind.dn, "workgroup": domain.workgroup})
