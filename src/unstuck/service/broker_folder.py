"""The embedded broker: kombu's filesystem transport, with each message written atomically.

kombu creates a message file under its final name, then locks and fills it;
a worker polling the folder can move the file in between, read it empty, and
die on a ``JSONDecodeError`` (taking the message with it). Here a message is
written under a name the consumer ignores and renamed into place once
complete, so a reader only ever sees whole messages. An exchange's table of
queues has the same race when it is first made (created empty, then locked and
filled: a publisher reading it in between fails on the empty file), so a new table
is written aside and linked into place whole. And kombu records a binding in the
process-wide state before it writes the table: another thread of the same process
that finds the binding declared skips its own, publishes, finds no table yet, and
kombu drops the message without a word; so the bindings this process declared
count as part of the table. Celery is given this class as ``broker_transport``
when no broker is configured.
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

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:  # type: ignore[override]
        table = super().get_table(exchange)
        exchanges = self.state.exchanges or {}
        declared = exchanges.get(exchange, {}).get("table", ())
        for routing_key, pattern, queue in declared:
            entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            if entry not in table:
                table.append(entry)
        return table

    def _queue_bind(  # type: ignore[override]
        self, exchange: str, routing_key: str, pattern: str, queue: str
    ) -> None:
        table = self._exchange_file(exchange)  # type: ignore[attr-defined]  # kombu 5.5+
        if not table.exists():
            self.control_folder.mkdir(exist_ok=True)
            entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = table.with_name(f".{table.name}.{uuid.uuid4()}.part")
            try:
                partial.write_bytes(str_to_bytes(dumps([entry])))
                try:
                    # a link, not a rename: a table another process made meanwhile is kept
                    os.link(partial, table)
                    return
                except FileExistsError:
                    pass  # made meanwhile: added to in place, under its lock, below
            except OSError as exc:
                raise ChannelError(f"Cannot write {table}") from exc
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
