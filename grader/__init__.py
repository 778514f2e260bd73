"""The ML Engineering Skills Lab grader.

Grades a learner's copy of a lab by running the lab's pytest suite in a sandbox and
scoring it task by task. The command line is ``python -m grader``; scripts can call
:func:`grader.api.grade` and :func:`grader.api.check` directly.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
