"""Run ``airflow standalone`` (or any command) so that Ctrl-C or SIGTERM ends every process it started.

``make ui`` runs this. ``airflow standalone`` starts the api-server, scheduler, dag-processor and
triggerer as children, and each task runs in a process group of its own (the task SDK's
supervisor calls ``setpgid``); a SIGTERM to ``airflow standalone`` alone leaves some of them
running. Here the command starts in a session of its own, this process becomes a *child
subreaper* (Linux: descendants whose parent dies are re-parented here, not to init, so none
escapes the tree), and on SIGINT, SIGTERM or SIGHUP every descendant gets SIGTERM, then SIGKILL
after ``--timeout`` seconds. When the command ends by itself, what it left behind is stopped the
same way. The exit code is the command's (128 + signal when it was stopped by one).

``python scripts/ui.py [--timeout 20] [-- command ...]``; default command: ``airflow standalone``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.2


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``prctl``); False where the kernel does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants() -> list[psutil.Process]:
    """Every living process below this one (adopted orphans included, thanks to the subreaper)."""
    try:
        return [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []


def reap() -> None:
    """Collect the exit status of every child that has ended (adopted ones too), without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_tree(command: subprocess.Popen, signum: int) -> None:
    """``signum`` to the command's process group and to each descendant (those in other groups too)."""
    try:
        os.killpg(command.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
    for process in descendants():
        try:
            process.send_signal(signum)
        except psutil.Error:
            pass


def stop_tree(command: subprocess.Popen, timeout: float) -> list[int]:
    """SIGTERM the whole tree, wait up to ``timeout`` s, SIGKILL what is left; return the pids killed."""
    signal_tree(command, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        if command.poll() is not None and not descendants():
            return []
        time.sleep(POLL_SECONDS)
    stubborn = [process.pid for process in descendants()]
    print(f"[ui] still running after {timeout:.0f}s, SIGKILL: {stubborn}", file=sys.stderr, flush=True)
    while descendants():
        signal_tree(command, signal.SIGKILL)
        time.sleep(POLL_SECONDS)
        reap()
    command.wait()
    return stubborn


def supervise(argv: list[str], timeout: float) -> int:
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    if not become_subreaper():
        print("[ui] no child subreaper here: orphaned processes may escape", file=sys.stderr, flush=True)
    command = subprocess.Popen(argv, start_new_session=True)
    while not received and command.poll() is None:
        time.sleep(POLL_SECONDS)
    if received:
        name = signal.Signals(received[0]).name
        print(
            f"[ui] {name}: stopping {' '.join(argv)} and everything it started", file=sys.stderr, flush=True
        )
    stop_tree(command, timeout)
    reap()
    return 128 + received[0] if received else command.returncode


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/ui.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="SIGTERM, then SIGKILL after this"
    )
    parser.add_argument("command", nargs="*", help="default: airflow standalone (from this virtualenv)")
    options = parser.parse_args(args)
    argv = options.command or [str(Path(sys.executable).parent / "airflow"), "standalone"]
    return supervise(argv, options.timeout)


if __name__ == "__main__":
    sys.exit(main())
