"""Named points where a test makes this process die, to prove what a crash there leaves.

``UNSTUCK_FAULT_KILL_AT=<point>`` in the environment (a test's switch, not a
setting) makes the process SIGKILL itself on reaching ``<point>``: no
``finally``, no shutdown, exactly what a crash or an OOM kill leaves. Unset,
`reach` is one comparison.

Points: ``upload-received`` (the upload is on this host's disk, nothing
recorded), ``upload-stored`` (the upload is in storage, its row not yet PENDING).
"""

from __future__ import annotations

import os
import signal

_KILL_AT = os.environ.get("UNSTUCK_FAULT_KILL_AT")


def reach(point: str) -> None:
    if point == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
