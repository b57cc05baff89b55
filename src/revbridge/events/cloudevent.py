"""One announcement as a CloudEvent 1.0 in structured mode (the whole event is the JSON body):
``specversion``, ``id``, ``source``, ``type``, ``time``, ``datacontenttype``, ``data``, plus the
optional ``subject``. Pure: the same announcement always gives the same bytes."""

from __future__ import annotations

import json

from revbridge.store.announcements import Pending

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"


def envelope(pending: Pending, *, source: str) -> dict[str, object]:
    return {
        "specversion": SPECVERSION,
        "id": pending.event_id,
        "source": source,
        "type": pending.kind,
        "subject": pending.subject,
        "time": pending.time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": pending.data,
    }


def serialise(event: dict[str, object]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
