"""The local sandbox: JumpCloud emulator on a real slapd, NAS simulator, and their CLI."""
