"""Module-level prepare steps for the pipeline tests: parser processes import them by name."""

import os
import time


def pid_of_preparer(content: bytes, url: str, headers: dict) -> int:
    return os.getpid()


def spin_forever(content: bytes, url: str, headers: dict) -> None:
    # Pure Python, so the alarm's handler runs between bytecodes, as it does in feedparser.
    while True:
        time.sleep(0.001)


def upper(content: bytes, url: str, headers: dict) -> str:
    return content.decode().upper()
