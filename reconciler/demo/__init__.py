"""`reconcile demo`: the real daemon against the simulated stack (`simstack`).

The only part of the product that imports the fakes. `run` starts the stack and the daemon and
shows the requests as they move; `script` plays out what happens upstream; `stage` sets up the
world, the stack and the config; `presenters` shows the run, `summary` what it came to; `serve`
is `--serve`.
"""

from reconciler.demo.run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
