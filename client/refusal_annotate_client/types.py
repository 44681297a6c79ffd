"""What the API answers, as typed dataclasses. Keys the API adds later are
ignored, so an older client keeps working against a newer server."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

Json = dict[str, Any]


def _known(cls: type[Any], data: Json) -> Json:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    label_set: str
    label_set_version: int
    overlap: int
    role: str = ""
    items_total: int = 0
    items_complete: int = 0
    annotations_total: int = 0
    archived_at: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    project: int | None = None
    stage: str = ""
    progress_done: int = 0
    progress_total: int | None = None
    result: Any = None
    errors: list[Any] = dataclasses.field(default_factory=list)
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_known(cls, data))

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class Claim:
    """An item claimed for labelling: submit or skip it by its id (an assignment's)."""

    id: int
    expires_at: str
    transcript: Json
    content_warning: str | None
    label_set: Json

    @classmethod
    def from_json(cls, data: Json) -> Self:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class GoldExport:
    """A finished gold export on disk: the data file and its manifest."""

    job: Job
    path: Path
    manifest_path: Path
    manifest: Json
