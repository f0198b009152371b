"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu creates a message file under its final name, then locks and fills it;
a worker polling the folder can move the file in between, read it empty, and
die on a ``JSONDecodeError`` (taking the message with it). Here a message is
written under a name the consumer ignores and renamed into place once
complete, so a reader only ever sees whole messages. Celery is given this
class as ``broker_transport`` when no broker is configured.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

TRANSPORT = "unstuck.service.broker_folder:Transport"


class Channel(filesystem.Channel):
    # kombu's two base classes name the second parameter differently (message, payload);
    # kombu passes it by position.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # The consumer takes only names "<stamp>.<queue>.msg": this one it skips.
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as output:
                output.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc
        finally:
            if os.path.exists(partial):
                os.unlink(partial)


class Transport(filesystem.Transport):
    Channel = Channel
