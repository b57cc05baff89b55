"""The NetSuite test ERP's asynchronous jobs: ``/services/rest/async/v1/job/...``.

A job is the upsert NetSuite queued. It runs when it has been read ``job_polls`` times (so tests
need no sleeps), or never when told so, and then holds its outcome: the stored record or the
error document ``Books.problems`` gave. Idempotency keys are remembered: a second submit with a
key already used returns the earlier job and creates nothing. Job, task list, task and result
read as NetSuite's documentation shows them (subsect_161278579295, subsect_161252896355,
subsect_161252889998); a job has one task, whose id is 1.
"""

from __future__ import annotations

import threading
from typing import Any

from netsuite_erp_books import Books, Job, detail


class Jobs:
    def __init__(self, books: Books, *, job_polls: int = 1) -> None:
        self.books = books
        self.job_polls = job_polls
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self._by_key: dict[str, Job] = {}
        self._never = 0

    def stall(self, stalled: bool = True) -> None:
        """From now on every job never completes; with False, jobs complete again, the stuck ones
        included (NetSuite's processors caught up)."""
        with self._lock:
            self._never = 10**9 if stalled else 0
            if not stalled:
                for job in self.jobs.values():
                    if job.polls_needed is None:
                        job.polls_needed = self.job_polls

    def never_next(self, count: int = 1) -> None:
        with self._lock:
            self._never += count

    def submit(self, external_id: str, body: dict[str, Any], key: str) -> tuple[Job, bool]:
        """The job for this request and whether the key had been used before."""
        with self._lock:
            if key and key in self._by_key:
                return self._by_key[key], True
            never, self._never = self._never > 0, max(0, self._never - 1)
            job = Job(
                id=str(5000 + len(self.jobs) + 1),
                external_id=external_id,
                body=body,
                key=key,
                polls_needed=None if never else self.job_polls,
            )
            self.jobs[job.id] = job
            if key:
                self._by_key[key] = job
            return job, False

    def read(self, rest: str, base: str) -> tuple[int, Any, dict[str, str]]:
        parts = rest.strip("/").split("/")
        job = self.jobs.get(parts[0])
        if job is None or len(parts) not in (1, 2, 3, 4) or (len(parts) > 2 and parts[2] != "1"):
            return (
                404,
                {
                    "title": "Not Found",
                    "status": 404,
                    "o:errorDetails": [detail("NONEXISTENT_ID", "No such job.")],
                },
                {},
            )
        href = f"{base}/services/rest/async/v1/job/{job.id}"
        if len(parts) == 1:
            self._poll(job)
            return 200, self._job_json(job, href), {}
        if len(parts) == 2:
            task = {"links": [{"rel": "self", "href": f"{href}/task/1"}]}
            return 200, {"links": [{"rel": "self", "href": f"{href}/task"}], "items": [task], "count": 1}, {}
        if len(parts) == 3:
            return 200, self._task_json(job, f"{href}/task/1"), {}
        if job.outcome is None:
            return (
                404,
                {
                    "title": "Not Found",
                    "status": 404,
                    "o:errorDetails": [detail("NONEXISTENT_ID", "No result yet.")],
                },
                {},
            )
        status, error, location = job.outcome
        return status, error, ({"Location": location} if location else {})

    def _poll(self, job: Job) -> None:
        with self._lock:
            job.polls += 1
            due = job.polls_needed is not None and job.polls >= job.polls_needed and job.outcome is None
        if due:
            self._run(job)

    def _run(self, job: Job) -> None:
        problems = self.books.problems(job.external_id, job.body)
        if problems:
            job.outcome = (400, {"title": "Bad Request", "status": 400, "o:errorDetails": problems}, "")
            return
        record = self.books.upsert(job.external_id, job.body)
        job.outcome = (204, None, f"/services/rest/record/v1/journalentry/{record.id}")

    def _progress(self, job: Job) -> str:
        if job.outcome is None:
            return "pending"
        return "succeeded" if job.outcome[0] < 300 else "failed"

    def _job_json(self, job: Job, href: str) -> dict[str, Any]:
        return {
            "links": [{"rel": "self", "href": href}],
            "completed": job.outcome is not None,
            "id": job.id,
            "progress": self._progress(job),
            "task": {"links": [{"rel": "self", "href": f"{href}/task"}]},
        }

    def _task_json(self, job: Job, href: str) -> dict[str, Any]:
        return {
            "links": [{"rel": "related", "href": f"{href}/result"}, {"rel": "self", "href": href}],
            "completed": job.outcome is not None,
            "id": "1",
            "progress": self._progress(job),
        }
