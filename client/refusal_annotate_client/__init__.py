"""A thin, typed client for refusal-annotate's API, for pipelines: projects,
imports, the labelling loop, gold exports (to a file, a pandas.DataFrame or
a datasets.Dataset) and the agreement and calibration reports."""

from __future__ import annotations

from refusal_annotate_client.client import Client
from refusal_annotate_client.errors import (
    ApiError,
    ClientError,
    JobFailed,
    JobTimeout,
    MissingExtra,
)
from refusal_annotate_client.types import Claim, GoldExport, Job, Project

__all__ = [
    "ApiError",
    "Claim",
    "Client",
    "ClientError",
    "GoldExport",
    "Job",
    "JobFailed",
    "JobTimeout",
    "MissingExtra",
    "Project",
]
