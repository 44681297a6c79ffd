"""The client's errors: the API's error body, a failed job, a job that ran too long."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from refusal_annotate_client.types import Job


class ClientError(Exception):
    """Everything this package raises."""


class ApiError(ClientError):
    """A response that is not a success, with the API's error body
    {"detail": "...", "errors": {field: [messages]}}."""

    def __init__(
        self, status: int, detail: str, errors: dict[str, Any], method: str, url: str
    ) -> None:
        self.status = status
        self.detail = detail
        self.errors = errors
        self.method = method
        self.url = url
        fields = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items())
        super().__init__(
            f"{method} {url} -> {status}: {detail}" + (f" ({fields})" if fields else "")
        )

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        detail, errors = response.reason_phrase, {}
        try:
            body = response.json()
        except ValueError:  # not JSON: a proxy's page, say; its start says enough
            body = None
            detail = response.text[:200] or detail
        if isinstance(body, dict):
            detail = str(body.get("detail", detail))
            raw = body.get("errors")
            errors = raw if isinstance(raw, dict) else {}
        return cls(
            response.status_code,
            detail,
            errors,
            response.request.method,
            str(response.request.url),
        )


class JobFailed(ClientError):
    """A job that ended in failure; `errors` are the job's own (an import's
    carry the line of each bad row)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.errors = job.errors
        shown = "; ".join(map(str, job.errors[:10]))
        more = f" (and {len(job.errors) - 10} more)" if len(job.errors) > 10 else ""
        super().__init__(f"Job {job.id} ({job.kind}) failed: {shown}{more}")


class JobTimeout(ClientError, TimeoutError):
    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job
        super().__init__(
            f"Job {job.id} ({job.kind}) still {job.status} after {timeout:g} s"
            f" ({job.stage or 'no stage'}, {job.progress_done}/{job.progress_total})"
        )


class MissingExtra(ClientError, ImportError):
    """pandas or datasets asked for but not installed."""
