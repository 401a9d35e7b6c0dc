import pulumi
from filedemo_provider import File

cfg = pulumi.Config()
f = File("demo", path=cfg.require("path"), content=cfg.require("content"), token=cfg.require_secret("token"))
pulumi.export("content", f.content)
