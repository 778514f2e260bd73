"""Errors the grader reports to its user as one sentence and exit code 2.

    GraderError                  anything the user can fix; the message says how
     ├── LabNotFound             an unknown lab slug
     ├── ManifestError           a lab.toml that does not parse or validate
     ├── SubmissionError         a missing, oversized or escaping submission
     ├── RunnerUnavailable       the requested runner cannot run here (no engine)
     └── ImageBuildError         the lab image could not be built

A learner's own failing code is never one of these: it becomes a failed task.
"""

from __future__ import annotations

__all__ = [
    "GraderError",
    "ImageBuildError",
    "LabNotFound",
    "ManifestError",
    "RunnerUnavailable",
    "SubmissionError",
]


class GraderError(Exception):
    """A problem the user can fix. ``str(err)`` is a sentence that says how."""


class LabNotFound(GraderError):
    pass


class ManifestError(GraderError):
    pass


class SubmissionError(GraderError):
    pass


class RunnerUnavailable(GraderError):
    pass


class ImageBuildError(GraderError):
    pass
