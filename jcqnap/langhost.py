"""A stand-in Python language host for machines without the official `pulumi-language-python`.

The Pulumi CLI starts a *language host* to run a Python program. The official one is a Go binary
shipped by Pulumi's installer; where it cannot be had (no internet, no served Go module), this
module fills in. It serves the LanguageRuntime gRPC service with the Python SDK's own
`pulumi.automation._server.LanguageServer` (the class behind inline Automation API programs), and its
program runs the project's `__main__.py` with `runpy`, as the official host does.

It is NOT a replacement for the official host: it supports exactly what jcqnap needs (run a program
for preview/up/refresh/destroy) and nothing else (no dependency installation, no plugin discovery).
It is pinned to the SDK version in `pyproject.toml`; `tests/unit/test_langhost.py` fails loudly if
the SDK's server class changes shape.

Installed as the console script `pulumi-language-python` of the project venv, so its interpreter is
the venv's. The CLI runs it as `pulumi-language-python [flags] ENGINE_ADDRESS`; it prints the port
it listens on (127.0.0.1 only) and serves until killed.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from concurrent import futures
from typing import Any

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc

HELP = """usage: pulumi-language-python [flags] ENGINE_ADDRESS

jcqnap's stand-in for Pulumi's official Python language host, for machines where the official
host cannot be installed. It serves the SDK's own LanguageServer on 127.0.0.1 and runs __main__.py
of the project directory. With internet access, install the official Pulumi CLI instead
(https://www.pulumi.com/docs/install/); an official host found on PATH is always preferred.
"""


class ProjectProgramServer(LanguageServer):
    """LanguageServer whose program is the `__main__.py` of the directory the CLI asks for."""

    def __init__(self) -> None:
        super().__init__(self._run_main)
        self._program_dir = os.getcwd()

    def _run_main(self) -> None:
        main = os.path.join(self._program_dir, "__main__.py")
        if self._program_dir not in sys.path:
            sys.path.insert(0, self._program_dir)
        # Errors meant for the user (jcqnap.config.ConfigError) subclass pulumi.RunError, which the
        # SDK server reports as a plain message rather than "python inline source runtime error".
        runpy.run_path(main, run_name="__main__")

    def Run(self, request: Any, context: Any) -> Any:
        program_dir: str = str(getattr(request, "pwd", "") or "")
        info = getattr(request, "info", None)
        if info is not None and info.program_directory:
            program_dir = str(info.program_directory)
        if program_dir:
            self._program_dir = program_dir
            os.chdir(program_dir)
        return super().Run(request, context)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help", "-help") for a in args):
        print(HELP, end="")
        return
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProjectProgramServer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    # The CLI stops its language host with SIGINT once the run is over: that is a normal exit.
    signal.signal(signal.SIGINT, lambda *_: server.stop(grace=1))
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=1))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
