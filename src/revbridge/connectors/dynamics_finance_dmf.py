"""The F&O connector's DMF side: the Data management package REST API's actions.

``upload`` asks for a write URL, PUTs the package to it (a SAS URL: no bearer token goes to blob
storage) and starts ``ImportFromPackage`` under one lock, because F&O runs the import as a batch job
that must not be started from parallel threads. ``status`` reads ``GetExecutionSummaryStatus``
(``Unknown`` for an execution id F&O has never seen). ``errors`` reads the staging error file and
the target error keys file (generated on request, its URL empty until it is ready) and groups their
rows by journal key (DESCRIPTION) with F&O's messages and the LINENUMBERs named.
See https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/data-management-api
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.dynamics_finance_package import ENTITY_NAME, read_error_file, render_package
from revbridge.connectors.http import read_json, send

DMF = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
Failure = Callable[[httpx.Response], ConnectorUnavailable | ConnectorRejected]
Errors = dict[str, tuple[list[str], tuple[int, ...]]]


class DmfImports:
    def __init__(
        self, client: httpx.Client, blobs: httpx.Client, *, definition_group: str, failure: Failure
    ) -> None:
        self._client = client
        self._blobs = blobs
        self._definition_group = definition_group
        self._failure = failure
        self._import_lock = threading.Lock()

    def upload(self, company: str, execution: str, rows: Sequence[Mapping[str, str]]) -> str:
        """Write URL, PUT the package, ImportFromPackage: under one lock, as F&O asks."""
        package = render_package(self._definition_group, rows)
        with self._import_lock:
            written = self.action("GetAzureWriteUrl", {"uniqueFileName": f"{execution}.zip"})
            try:
                blob_url = json.loads(str(written))["BlobUrl"]
            except (ValueError, KeyError, TypeError):
                raise ConnectorUnavailable("F&O answered GetAzureWriteUrl without a BlobUrl") from None
            put = send(
                self._blobs, "PUT", str(blob_url), content=package, headers={"x-ms-blob-type": "BlockBlob"}
            )
            if put.status_code not in (200, 201):
                raise ConnectorUnavailable(f"blob storage refused the package ({put.status_code})")
            body = {
                "packageUrl": blob_url,
                "definitionGroupId": self._definition_group,
                "executionId": execution,
                "execute": True,
                "overwrite": True,
                "legalEntityId": company,
            }
            started = self.action("ImportFromPackage", body, reading=False)
        return str(started) if started else execution

    def errors(self, execution: str) -> dict[str, tuple[list[str], tuple[int, ...]]] | None:
        """Error rows of both files by journal key: F&O's messages and the line numbers named."""
        asked = {"executionId": execution, "entityName": ENTITY_NAME}
        rows: list[dict[str, str]] = []
        staging = self.action("GetImportStagingErrorFileUrl", asked)
        if staging:
            rows += self._download(str(staging))
        if self.action("GenerateImportTargetErrorKeysFile", asked):
            target = self.action("GetImportTargetErrorKeysFileUrl", asked)
            if not target:
                return None
            rows += self._download(str(target))
        grouped: dict[str, tuple[list[str], set[int]]] = {}
        for row in rows:
            messages, lines = grouped.setdefault(row.get("DESCRIPTION", ""), ([], set()))
            message = " ".join((row.get("ERROR") or "").split())
            if message and message not in messages:
                messages.append(message)
            if (row.get("LINENUMBER") or "").strip().isdigit():
                lines.add(int(row["LINENUMBER"]))
        return {
            key: (messages or ["refused"], tuple(sorted(lines))) for key, (messages, lines) in grouped.items()
        }

    def _download(self, url: str) -> list[dict[str, str]]:
        response = send(self._blobs, "GET", url)
        if response.status_code != 200:
            raise ConnectorUnavailable(f"could not read a DMF error file ({response.status_code})")
        return read_error_file(response.content)

    def status(self, execution: str) -> str:
        return str(self.action("GetExecutionSummaryStatus", {"executionId": execution}) or "Unknown")

    def action(self, action: str, body: Mapping[str, Any], *, reading: bool = True) -> Any:
        """One DMF action; its ``value``. A read F&O refuses is a setup problem, not a rejection."""
        response = send(self._client, "POST", DMF + action, json=dict(body))
        if response.status_code != 200:
            refused = self._failure(response)
            if reading and isinstance(refused, ConnectorRejected):
                raise ConnectorUnavailable(f"F&O refused {action}: {refused}")
            raise refused
        answer = read_json(response)
        return answer.get("value") if isinstance(answer, dict) else None
