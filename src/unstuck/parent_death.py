"""Child processes that end when the process that started them dies, on Linux.

A parent that is SIGKILLed (or crashes) runs no ``finally``: children it
started in sessions of their own (``start_new_session``) would live on, holding
ports, data dirs and CPU. `die_with_parent` gives ``subprocess.Popen`` a
``preexec_fn`` that asks the kernel (``prctl(PR_SET_PDEATHSIG)``) to send the
child a signal when its parent goes. SIGTERM by default, so that the child
stops its own children the way it does on any SIGTERM.

The kernel ties the request to the *thread* that forked, not to the process:
start such children from a thread that lives as long as the parent (the main
thread, or a supervisor thread that stops them before it ends).

Elsewhere than Linux there is no such call: `die_with_parent` returns ``None``
and children behave as before.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive `signum` when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    # Looked up here, in the parent: between fork and exec the child should call
    # as little as it can (no imports, no library loading).
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal will come.
        if os.getppid() != parent:
            os._exit(1)

    return preexec
