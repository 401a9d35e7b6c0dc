"""The JumpCloud emulator: backend (models), HTTP handlers (responses), routes (urls), errors."""
