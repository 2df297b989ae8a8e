"""kombu's file-system transport, with every message written atomically.

The embedded default broker (``filesystem://``, TOOLCHAIN.md) is shared by web, worker and beat.
kombu 5.7's transport creates a message file under its final name and then writes into it, while
a worker lists the folder and moves and reads every file under a queue's name without a lock: a
worker that picks a file up between the two reads an empty or half-written message and stops
with "Unrecoverable error: JSONDecodeError" (seen in a trial, the same millisecond as a
heartbeat; kombu issue #1551). The exchange table a publisher reads has the same race when it is
first created: the file exists, empty, before its creator locks and writes it.

Here a message is written to a hidden temporary name that matches no queue and renamed into place
(``os.replace``: atomic on one file system), and a new exchange table is written to a temporary
file and linked into place (``os.link``: atomic, and it fails if another process created the table
first, which is then updated under its lock as before); a reader only ever sees whole files.
``bts_portal.celery`` registers this class for ``filesystem://``.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: write ``.<name>.part``, then rename it to ``<name>``."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: ``_get`` takes only names whose part after the first dot is "<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Bind ``queue`` to ``exchange``: a table that does not exist yet is created whole."""
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(exist_ok=True)
            row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = file.with_name(f".{file.name}.{uuid.uuid4()}.part")
            try:
                partial.write_bytes(str_to_bytes(dumps([row])))
                try:
                    os.link(partial, file)
                    return
                except FileExistsError:
                    pass  # another process created it first: add the row under its lock below
            except OSError as exc:
                raise filesystem.ChannelError(f"Cannot open {file}") from exc
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    """``filesystem://`` with atomic message files (see the module's docstring)."""

    Channel = Channel
