"""`reconcile demo --serve`: the demo's stack and script, left running for the commands to be
tried by hand against it."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from reconciler import registry
from reconciler.demo.script import SPIRITED
from reconciler.demo.stage import Stage


def serve_stage(stage: Stage, *, kept: bool, stop: threading.Event) -> None:
    """Say how to reach the stack and what to try, then play the script until `stop`."""
    script = stage.script
    script.announce_refreshes = True
    config = stage.config.path
    out = sys.stdout
    print("reconcile demo --serve: the simulated stack is running on 127.0.0.1.",
          file=out)
    for service in stage.stack.services:
        print(f"  {registry.short_name(service):<11} {stage.stack.url(service)}   api key "
              f"{stage.stack.api_keys[service]}", file=out)
    print(f"\nThe world plays the demo's script over the next "
          f"{script.scaled(script.length):.0f} s (slower: --speed 0.25), then stays as "
          f"it is. Nothing polls it until you do.", file=out)
    print(f"\nConfig: {config}", file=out)
    print("-" * 72, file=out)
    print(stage.config_text.rstrip("\n"), file=out)
    print("-" * 72, file=out)
    cmd = f"reconcile --config {config}"
    print("Try, in another terminal (run --once a few times as the script goes on):",
          file=out)
    for line in (f"{cmd} --once", f"{cmd} status", f"{cmd} show {SPIRITED}",
                 f"{cmd} doctor",
                 f"{cmd}            # the daemon; then: curl http://{stage.listen}"
                 f"/api/requests",
                 f"Status page (while the daemon runs): http://{stage.listen}/"):
        print(f"  {line}", file=out)
    print(("The folder is kept afterwards." if kept else
           "The folder is deleted when the stack stops.")
          + " Ctrl-C stops the stack.", file=out, flush=True)

    def emit(text: str) -> None:
        print(f"{script.elapsed():6.1f}s  [sim] {text}", file=out, flush=True)

    script_stop = threading.Event()
    thread = threading.Thread(target=script.play, args=(emit, script_stop),
                              name="demo-script", daemon=True)
    thread.start()
    while not stop.wait(0.2):
        pass
    script_stop.set()
    thread.join(5)
    print("reconcile demo --serve: stopping the simulated stack", file=out, flush=True)


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop` (main thread only); returns how to put the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
