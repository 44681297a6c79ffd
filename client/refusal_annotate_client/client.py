"""The client: one httpx session with the caller's token, one method per task."""

from __future__ import annotations

import io
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

import httpx

from refusal_annotate_client.errors import ApiError, JobFailed, JobTimeout, MissingExtra
from refusal_annotate_client.types import Claim, GoldExport, Job, Json, Project

if TYPE_CHECKING:
    import datasets
    import pandas

ProjectRef = int | Project
ClaimRef = int | Claim
Progress = Callable[[Job], None]


def _id(ref: int | Project | Claim | Job) -> int:
    return ref if isinstance(ref, int) else ref.id


class Client:
    """`Client("https://annotate.example.org", token)`; the token is an API
    token from the app's token page. Use it as a context manager, or close()."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers["Authorization"] = f"Token {token}"
        self._http.headers["Accept"] = "application/json"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Plumbing

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, url, **kwargs)
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Json:
        body = self._request(method, url, **kwargs).json()
        if not isinstance(body, dict):
            raise ApiError(200, "Expected a JSON object.", {}, method, url)
        return body

    def pages(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[Json]:
        """Every row of a cursor-paginated list, following each page's `next`
        (an absolute URL that carries the filters) until there is none."""
        page = self._json("GET", url, params=params)
        yield from page["results"]
        # No params on `next`: httpx would replace its query (the cursor) with them.
        while next_url := page.get("next"):
            page = self._json("GET", next_url)
            yield from page["results"]

    def _job_started(self, response: httpx.Response) -> Job:
        # Every job-starting endpoint answers 202 with the job itself.
        return Job.from_json(response.json())

    # Projects

    def projects(self) -> Iterator[Project]:
        """The projects the token's user is a member of, with their role."""
        for row in self.pages("/api/projects/"):
            yield Project.from_json(row)

    def project(self, project: ProjectRef) -> Project:
        return Project.from_json(self._json("GET", f"/api/projects/{_id(project)}/"))

    def create_project(
        self,
        name: str,
        label_set: str,
        *,
        label_set_version: int | None = None,
        overlap: int | None = None,
        **settings: Any,
    ) -> Project:
        """A new project (the caller becomes its manager); label_set_version
        defaults to the label set's newest, overlap to the app's default."""
        body: Json = {"name": name, "label_set": label_set, **settings}
        if label_set_version is not None:
            body["label_set_version"] = label_set_version
        if overlap is not None:
            body["overlap"] = overlap
        return Project.from_json(self._json("POST", "/api/projects/", json=body))

    def add_member(
        self,
        project: ProjectRef,
        username: str,
        *,
        role: str = "annotator",
        credentials: str = "password",
        email: str = "",
    ) -> Json:
        """Add someone to a project (managers). A new user gets a one-time
        `password` or an `invitation_url` in the answer, shown this once."""
        body: Json = {
            "username": username,
            "role": role,
            "credentials": credentials,
            "email": email,
        }
        return self._json("POST", f"/api/projects/{_id(project)}/members/", json=body)

    # Imports and jobs

    def import_file(
        self,
        project: ProjectRef,
        file: str | Path | IO[bytes],
        *,
        format: str | None = None,
        filename: str | None = None,
    ) -> Job:
        """Upload a transcript file (jsonl, json, csv or hh; the app guesses
        from the name or content when `format` is not given) and return its
        job: wait() for it. The import is all-or-nothing."""
        data = {"format": format} if format else {}
        if isinstance(file, str | Path):
            path = Path(file)
            with path.open("rb") as f:
                return self._upload(project, f, filename or path.name, data)
        name = filename or getattr(file, "name", None)
        return self._upload(project, file, str(name or "upload"), data)

    def import_records(
        self, project: ProjectRef, records: Iterable[Mapping[str, Any]]
    ) -> Job:
        """Import dicts, each a line of the JSONL import ({"prompt",
        "response", ...} or {"messages": [...]}, with metadata)."""
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        return self._upload(
            project,
            io.BytesIO(body.encode()),
            "records.jsonl",
            {"format": "jsonl"},
        )

    def _upload(
        self, project: ProjectRef, file: IO[bytes], filename: str, data: Json
    ) -> Job:
        response = self._request(
            "POST",
            f"/api/projects/{_id(project)}/imports/",
            files={"file": (Path(filename).name, file)},
            data=data,
        )
        return self._job_started(response)

    def job(self, job: int | Job) -> Job:
        return Job.from_json(self._json("GET", f"/api/jobs/{_id(job)}/"))

    def wait(
        self,
        job: int | Job,
        *,
        timeout: float = 600.0,
        poll: float = 1.0,
        progress: Progress | None = None,
    ) -> Job:
        """Poll the job until it has finished and return it; `progress` is
        called with the job at each poll. Raises JobFailed with the job's
        errors when it failed, JobTimeout after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        current = job if isinstance(job, Job) else self.job(job)
        while True:
            if not current.finished:
                current = self.job(current)
            if progress is not None:
                progress(current)
            if current.status == "failed":
                raise JobFailed(current)
            if current.succeeded:
                return current
            if time.monotonic() >= deadline:
                raise JobTimeout(current, timeout)
            time.sleep(poll)

    # The annotator's loop

    def claim(self, project: ProjectRef) -> Claim | None:
        """The next item to label (or the live claim back); None when the
        queue has nothing for this annotator."""
        response = self._request("POST", f"/api/projects/{_id(project)}/claim/")
        if response.status_code == 204:
            return None
        return Claim.from_json(response.json())

    def submit(
        self,
        claim: ClaimRef,
        values: Mapping[str, Any],
        *,
        client_uuid: uuid.UUID | str | None = None,
        seconds: float = 0.0,
    ) -> Json:
        """Submit labels for a claim; the annotation. Pass the same
        client_uuid to retry safely: a repeat stores nothing new."""
        return self._json(
            "POST",
            f"/api/assignments/{_id(claim)}/annotation/",
            json={
                "values": dict(values),
                "client_uuid": str(client_uuid or uuid.uuid4()),
                "seconds": seconds,
            },
        )

    def skip(
        self, claim: ClaimRef, *, reason: str = "", kind: str | None = None
    ) -> Json:
        body: Json = {"reason": reason}
        if kind is not None:
            body["kind"] = kind
        return self._json("POST", f"/api/assignments/{_id(claim)}/skip/", json=body)

    # Gold

    def export_gold(
        self,
        project: ProjectRef,
        path: str | Path,
        *,
        manifest_path: str | Path | None = None,
        timeout: float = 600.0,
        poll: float = 1.0,
        progress: Progress | None = None,
        **options: Any,
    ) -> GoldExport:
        """Export the gold to `path` and its manifest beside it (name.manifest.json).
        Options as the export page's: format (jsonl, csv, parquet),
        source_model, dataset, min_agreement, adjudicated_only, since, until,
        ratios, annotations, include_unresolved."""
        response = self._request(
            "POST", f"/api/projects/{_id(project)}/exports/", json=options
        )
        job = self.wait(
            self._job_started(response), timeout=timeout, poll=poll, progress=progress
        )
        path = Path(path)
        manifest_file = (
            Path(manifest_path) if manifest_path else path.with_suffix(".manifest.json")
        )
        self._download(f"/api/jobs/{job.id}/download/data/", path)
        self._download(f"/api/jobs/{job.id}/download/manifest/", manifest_file)
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        return GoldExport(
            job=job, path=path, manifest_path=manifest_file, manifest=manifest
        )

    def _download(self, url: str, path: Path) -> None:
        with self._http.stream("GET", url) as response:
            if response.is_error:
                response.read()
                raise ApiError.from_response(response)
            with path.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)

    def export_gold_dataframe(
        self, project: ProjectRef, **options: Any
    ) -> pandas.DataFrame:
        """The gold as a pandas.DataFrame: the JSONL export read as it is."""
        try:
            import pandas
        except ImportError as e:
            raise MissingExtra(
                "export_gold_dataframe needs pandas: pip install pandas"
            ) from e
        with tempfile.TemporaryDirectory() as tmp:
            export = self._export_jsonl(project, Path(tmp), options)
            return pandas.read_json(export.path, lines=True)

    def export_gold_dataset(
        self, project: ProjectRef, **options: Any
    ) -> datasets.Dataset:
        """The gold as a datasets.Dataset (one split, train): the JSONL export
        read as it is by datasets' own json loader."""
        try:
            import datasets
        except ImportError as e:
            raise MissingExtra(
                "export_gold_dataset needs datasets: pip install datasets"
            ) from e
        with tempfile.TemporaryDirectory() as tmp:
            export = self._export_jsonl(project, Path(tmp), options)
            # Loading copies the rows into datasets' cache: the file may go.
            return datasets.load_dataset(
                "json", data_files=str(export.path), split="train"
            )

    def _export_jsonl(
        self, project: ProjectRef, folder: Path, options: dict[str, Any]
    ) -> GoldExport:
        if options.setdefault("format", "jsonl") != "jsonl":
            raise ValueError("A DataFrame or a Dataset is read from the JSONL export.")
        return self.export_gold(project, folder / "gold.jsonl", **options)

    # Reports

    def agreement(
        self,
        project: ProjectRef,
        *,
        timeout: float = 600.0,
        poll: float = 1.0,
        progress: Progress | None = None,
        **filters: Any,
    ) -> Json:
        """Agreement figures per field for these filters (field, source_model,
        dataset, category, annotators, since, until, resamples, seed):
        computed afresh, then read."""
        return self._report(
            f"/api/projects/{_id(project)}/agreement/",
            filters,
            timeout=timeout,
            poll=poll,
            progress=progress,
        )

    def calibration(
        self,
        project: ProjectRef,
        *,
        timeout: float = 600.0,
        poll: float = 1.0,
        progress: Progress | None = None,
        **params: Any,
    ) -> Json:
        """The calibration report of the gold (breakdown: a metadata key,
        default category): computed afresh, then read."""
        return self._report(
            f"/api/projects/{_id(project)}/calibration/",
            params,
            timeout=timeout,
            poll=poll,
            progress=progress,
        )

    def _report(
        self,
        url: str,
        params: Json,
        *,
        timeout: float,
        poll: float,
        progress: Progress | None,
    ) -> Json:
        # POST starts the job and GET reads the last result for the same
        # parameters (query parameters, both): a GET never computes.
        response = self._request("POST", url, params=params)
        self.wait(
            self._job_started(response), timeout=timeout, poll=poll, progress=progress
        )
        return self._json("GET", url, params=params)
