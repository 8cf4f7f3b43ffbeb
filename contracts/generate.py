"""Write the machine-readable contracts into contracts/schemas/: a JSON Schema per event type, AsyncAPI for
the NATS side and the OpenAPI of each HTTP service. `python -m contracts.generate`; the unit tests fail when
the committed files drift from what this renders.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import create_model

from contracts import subjects
from contracts.envelope import Envelope, Event
from contracts.registry import EVENT_CLASSES
from contracts.reviews import CommandReply

SCHEMAS_DIR = Path(__file__).parent / "schemas"
#: not resolvable on purpose (.invalid): the ids only name the schemas, the files live in this repository
ID_BASE = "https://gongkai.invalid/contracts/schemas/"
SERVICES = ("items", "reviews", "reports")


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def event_file(cls: type[Event]) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}.json"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The event as stored: the envelope, narrowed to this type, version and aggregate, around its payload."""
    stored = create_model(
        f"{cls.__name__}Envelope", __base__=Envelope,
        type=(Literal[cls.TYPE], ...),
        schema_version=(Literal[cls.VERSION], ...),
        aggregate=(Literal[cls.AGGREGATE], ...),
        payload=(cls, ...),
    )
    schema = stored.model_json_schema()
    schema.update({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID_BASE + event_file(cls),
        "title": f"{cls.TYPE} v{cls.VERSION}",
        "description": inspect.cleandoc(cls.__doc__ or ""),
    })
    return schema


ASYNCAPI_DESCRIPTION = f"""\
The NATS side of gongkai.

Commands (request/reply on core NATS, queue group `items`, never stored): the publishing workflow asks the
items service to record a decision, to publish, or for an item's submission.

Events: every state change is one envelope on `{subjects.EVENTS}.<aggregate>.<id>`, stored in the JetStream
stream `{subjects.STREAM}` (subjects: {", ".join(subjects.STREAM_SUBJECTS)}). The envelope schema here leaves
`payload` open; the schema of each event type and version, with its payload, is
contracts/schemas/<type>.v<version>.json.

Not expressible in this document as FastStream generates it:
- the replies to commands (FastStream emits no operation `reply`): every reply is a CommandReply with the
  fields {", ".join(CommandReply.model_fields)}; a refusal has ok=false, error_kind (the DomainError class),
  error (its code) and the Chinese and English messages zh and en;
- the JetStream stream itself (AsyncAPI's NATS bindings have no stream), hence the paragraph above;
- the channel parameter `{{<aggregate>_id}}` of the event subjects (FastStream emits no `parameters`);
  an id is any non-empty string without `.`, `*`, `>` or whitespace;
- the append headers: `Nats-Msg-Id` carries the envelope's event_id (de-duplication of retried appends)
  and `Nats-Expected-Last-Subject-Sequence` the aggregate's last sequence (optimistic concurrency).
"""


def asyncapi() -> dict[str, Any]:
    from faststream.nats import JStream
    from faststream.specification import AsyncAPI

    from gongkai.config import Settings
    from services.items import commands

    broker = commands.build_broker(Settings())
    commands.register(broker, None)
    # declare=False: the event log configures the stream; this one only documents where events are stored
    stream = JStream(subjects.STREAM, subjects=subjects.STREAM_SUBJECTS, declare=False)
    for aggregate in sorted({c.AGGREGATE for c in EVENT_CLASSES}):
        types = ", ".join(c.TYPE for c in EVENT_CLASSES if aggregate == c.AGGREGATE)
        broker.publisher(f"{subjects.EVENTS}.{aggregate}.{{{aggregate}_id}}", stream=stream, schema=Envelope,
                         title=f"{aggregate}_events",
                         description=f"The event log of each {aggregate}, one subject per {aggregate}: {types}")
    spec = AsyncAPI(broker, title="gongkai NATS", version="1", description=ASYNCAPI_DESCRIPTION)
    return spec.to_specification().to_jsonable()


def openapi(service: str) -> dict[str, Any]:
    from gongkai.config import Settings

    app = importlib.import_module(f"services.{service}.app")
    return app.create_app(Settings()).openapi()


@contextmanager
def _generation_env() -> Iterator[None]:
    """Settings read GONGKAI_* from the environment; pin them so the output does not depend on the caller's
    shell, and give a throwaway data dir and key so nothing is written into a real one."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in os.environ if n.startswith("GONGKAI_")]:
            del os.environ[name]
        os.environ.update(GONGKAI_DATA_DIR=tmp, GONGKAI_JWT_KEY="contracts-generation-dummy-key")
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def render() -> dict[str, str]:
    """Relative file name → text of every file in contracts/schemas/."""
    files = {event_file(c): dumps(event_schema(c)) for c in EVENT_CLASSES}
    with _generation_env():
        files["asyncapi.json"] = dumps(asyncapi())
        for service in SERVICES:
            files[f"openapi-{service}.json"] = dumps(openapi(service))
    return dict(sorted(files.items()))


def main() -> None:
    files = render()
    SCHEMAS_DIR.mkdir(exist_ok=True)
    for stale in SCHEMAS_DIR.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
            print(f"removed {stale.name}")
    for name, text in files.items():
        path = SCHEMAS_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {name}")


if __name__ == "__main__":
    main()
