"""The embedded default broker (``filesystem://``) never hands a worker a message, or a publisher
an exchange table, that is still being written (bts_portal/broker.py). kombu's own transport
creates both files under their final names before it writes them: a reader that comes in between
reads an empty file and stops with JSONDecodeError (seen in a trial: the worker died)."""

import os
import threading

import pytest
from kombu import Connection
from kombu.transport import resolve_transport

from bts_portal.broker import Transport


@pytest.fixture
def options(tmp_path):
    # kombu keeps the file-system transport's bindings in one process-wide state; each test has
    # folders of its own, so it starts with none.
    Transport.global_state.clear()
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }


class _Paused:
    """Wraps an ``os`` function so the first call waits, inside the writer, until released."""

    def __init__(self, real):
        self.real, self.reached, self.go = real, threading.Event(), threading.Event()

    def __call__(self, *args, **kwargs):
        self.reached.set()
        assert self.go.wait(timeout=10)
        return self.real(*args, **kwargs)


def test_filesystem_urls_use_the_atomic_transport():
    assert resolve_transport("filesystem") is Transport


def test_a_message_still_being_written_is_invisible_to_a_reader(options, monkeypatch):
    with Connection("filesystem://", transport_options=options) as reader_connection:
        reader = reader_connection.SimpleQueue("race")
        paused = _Paused(os.replace)
        monkeypatch.setattr(os, "replace", paused)  # the writer stops with its bytes written, not renamed

        def write():
            with Connection("filesystem://", transport_options=options) as connection:
                with connection.SimpleQueue("race") as queue:
                    queue.put({"n": 1, "payload": "x" * 100_000})

        writer = threading.Thread(target=write)
        writer.start()
        assert paused.reached.wait(timeout=10)
        with pytest.raises(reader.Empty):
            reader.get(block=True, timeout=0.2)  # not JSONDecodeError: there is nothing to read yet
        assert [name for name in os.listdir(options["data_folder_in"]) if name.endswith(".race.msg")] == []
        paused.go.set()
        writer.join(timeout=10)
        message = reader.get(block=True, timeout=2)
        assert message.payload == {"n": 1, "payload": "x" * 100_000}
        message.ack()
        reader.close()


def test_an_exchange_table_being_created_is_read_as_missing_not_as_broken_json(options, monkeypatch):
    paused = _Paused(os.link)
    monkeypatch.setattr(os, "link", paused)  # the creator stops with the table written, not linked

    def create():
        with Connection("filesystem://", transport_options=options) as connection:
            connection.SimpleQueue("race").close()

    creator = threading.Thread(target=create)
    creator.start()
    assert paused.reached.wait(timeout=10)
    with Connection("filesystem://", transport_options=options) as connection:
        assert connection.default_channel.get_table("race") == []
        paused.go.set()
        creator.join(timeout=10)
        assert [tuple(row) for row in connection.default_channel.get_table("race")] == [("race", "", "race")]
