"""NetSuite's answers as connector outcomes, and its asynchronous jobs followed to their end.

``NetsuiteHttp`` sends through http.py's ``send`` and maps what is not a success: NetSuite's
error document gives the words and line numbers of a rejection, refused credentials say
NetSuite's own words (``INVALID_LOGIN``), the rest is http.py's ``failure``.

``JobFollower`` is the asynchronous life cycle. A 202 names the job in ``Location``; a 400
``IDEMPOTENCY_ERROR`` names the earlier job for the same key, which is followed, never
resubmitted. ``check`` reads the job until it is ``completed``, then its task and the task's
result: a success is the posted record (its id from the result, else found by external id), a
failure is a rejection with NetSuite's words and the lines it named. A job that never completes
stays accepted; the outbox's poll deadline turns it into a work item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    Receipt,
    Rejection,
)
from revbridge.connectors.http import detail, failure, read_json, send
from revbridge.connectors.netsuite_records import error_words
from revbridge.core.clock import Clock

JOBS = "/services/rest/async/v1/job"


def _last_segment(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1] if location else ""


def _quiet_json(response: httpx.Response) -> Any:
    """An error answer's JSON, or None when it is not JSON (its text is then the words)."""
    try:
        return json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        return None


class NetsuiteHttp:
    def __init__(self, client: httpx.Client, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return send(self._client, method, path, **kwargs)

    def close(self) -> None:
        self._client.close()

    def refusal(self, response: httpx.Response) -> ConnectorUnavailable | ConnectorRejected:
        status = response.status_code
        words, _, lines = error_words(_quiet_json(response))
        words = words or detail(response)
        if status in (401, 403):
            return ConnectorUnavailable(f"NetSuite refused our credentials ({status}): {words}")
        if 400 <= status < 500 and status not in (408, 429):
            return ConnectorRejected(f"NetSuite rejected the journal ({status}): {words}", lines=lines)
        return failure(response, now=self._clock.now)

    def located(self, response: httpx.Response) -> str:
        """The record or job id in an answer's ``Location``; a success without one is uncertain."""
        document = _last_segment(response.headers.get("Location", ""))
        if not document:
            raise ConnectorUnavailable(
                f"NetSuite answered {response.status_code} without a Location", uncertain=True
            )
        return document

    def get_json(
        self, path: str, *, params: Mapping[str, str] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        """A GET's JSON object; None for a 404 when ``missing_ok``. A read NetSuite refuses is a
        setup problem, never the journal's fault: unavailable."""
        response = self.send("GET", path, params=params)
        if response.status_code == 404 and missing_ok:
            return None
        return self._object(path, response)

    def post_json(
        self, path: str, body: str, *, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """A read that NetSuite takes as a POST (SuiteQL): its JSON object, mapped as a GET's."""
        headers = {**headers, "Content-Type": "application/json"}
        response = self.send("POST", path, content=body.encode("utf-8"), params=params, headers=headers)
        return self._object(path, response)

    def _object(self, path: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            refused = self.refusal(response)
            if isinstance(refused, ConnectorRejected):
                raise ConnectorUnavailable(f"NetSuite refused a read of {path}: {refused}")
            raise refused
        body = read_json(response)
        if not isinstance(body, dict):
            raise ConnectorUnavailable(f"NetSuite answered {path} with no JSON object", uncertain=True)
        return body


class JobFollower:
    def __init__(self, http: NetsuiteHttp, lookup: Callable[[str], Receipt | None]) -> None:
        self._http = http
        self._lookup = lookup

    def accepted(self, reference: str, response: httpx.Response) -> Receipt:
        """The receipt of an asynchronous upsert: the job NetSuite took, or the earlier job of the
        same idempotency key."""
        if response.status_code == 202:
            return Receipt(reference=reference, document=self._http.located(response), status=ACCEPTED)
        if response.status_code == 400:
            _, codes, _ = error_words(_quiet_json(response))
            if "IDEMPOTENCY_ERROR" in codes:
                job = self._http.located(response)
                return Receipt(reference=reference, document=job, status=ACCEPTED)
        raise self._http.refusal(response)

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        done: dict[str, Answer] = {}
        for receipt in accepted:
            answer = self._answer(receipt)
            if answer is not None:
                done[receipt.reference] = answer
        return done

    def _answer(self, receipt: Receipt) -> Answer | None:
        job_path = f"{JOBS}/{receipt.document}"
        job = self._http.get_json(job_path)
        if not job or job.get("completed") is not True:
            return None
        tasks = self._http.get_json(f"{job_path}/task") or {}
        items = [item for item in tasks.get("items") or [] if isinstance(item, dict)]
        if not items:
            raise ConnectorUnavailable(f"NetSuite job {receipt.document} completed without a task")
        task_path = f"{job_path}/task/{_task_id(items[0])}"
        task = self._http.get_json(task_path) or {}
        if task.get("completed") is not True:
            return None
        result = self._http.send("GET", f"{task_path}/result")
        if task.get("progress") == "succeeded" and result.status_code in (200, 204):
            return self._posted(receipt, result)
        words, _, lines = error_words(_quiet_json(result))
        message = words or f"job {receipt.document} {task.get('progress', 'failed')}: {detail(result)}"
        return Rejection(reference=receipt.reference, message=message, lines=lines, document=receipt.document)

    def _posted(self, receipt: Receipt, result: httpx.Response) -> Answer | None:
        document = _last_segment(result.headers.get("Location", ""))
        if not document:
            body = _quiet_json(result)
            document = str(body.get("id", "")) if isinstance(body, dict) else ""
        if document:
            return Receipt(reference=receipt.reference, document=document)
        return self._lookup(receipt.reference)  # the job succeeded: the record holds our external id


def _task_id(item: Mapping[str, Any]) -> str:
    if item.get("id"):
        return str(item["id"])
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self":
            return _last_segment(str(link.get("href", "")))
    raise ConnectorUnavailable("NetSuite listed a task without an id")
