"""A stand-in Python language host for machines without the official `pulumi-language-python`.

The Pulumi CLI starts a *language host* to run a Python program. The official one is a Go binary
shipped by Pulumi's installer; where it cannot be had (no internet, no served Go module), this
module fills in. It serves the LanguageRuntime gRPC service with the Python SDK's own
`pulumi.automation._server.LanguageServer` (the class behind inline Automation API programs), and its
program runs the project's `__main__.py` with `runpy`, as the official host does.

It is NOT a replacement for the official host: it supports exactly what jcqnap needs (run a program
for preview/up/refresh/destroy) and nothing else (no dependency installation, no plugin discovery).
It was written against the SDK pinned in `constraints.txt`; `tests/unit/test_langhost.py` fails
loudly if the SDK's server class changes shape.

It is not part of the jcqnap package: `tools/engine/build.sh` installs it, as
`pulumi-language-python-standin.py`, next to the `pulumi` it builds, together with the launcher
`pulumi-language-python` (tools/engine/pulumi-language-python), which the CLI finds there as a
bundled plugin and which runs this file with the project virtualenv's Python. The CLI runs the
launcher as `pulumi-language-python [flags] ENGINE_ADDRESS`; this prints the port it listens on
(127.0.0.1 only) and serves until killed.
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


def main() -> None:
    """Serve until the CLI stops us. Flags and the engine address in argv are not needed: the SDK's
    LanguageServer learns the engine's address from each Run request."""
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
