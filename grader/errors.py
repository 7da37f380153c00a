"""Errors the grader reports to its users.

Every error a user can cause (a bad file, an unknown assignment, a locked gradebook)
is a subclass of ``GraderError``; the CLI prints ``ErrorName: message`` for those and
exits non-zero. Anything else that escapes is a bug in the grader and keeps its traceback.

    GraderError
    ├── AssignmentError        unknown assignment, broken assignment.toml or checks
    ├── SubmissionError        a submission file that cannot be read or parsed
    ├── GradebookError         the database cannot be opened, is locked, or has no data
    ├── SandboxError           the sandbox cannot be started on this host
    ├── WorkerError            a grading worker could not start
    ├── ClusterError           the Dask cluster cannot be reached or cannot grade
    ├── UsageError             options that do not fit together
    ├── RosterError            a --roster file that is not an LMS class list
    ├── ExportError            grades that cannot be placed in an LMS export
    └── ArchiveError           an archive of submissions that cannot be unpacked safely
"""


class GraderError(Exception):
    """Base of every error the CLI reports as one readable line."""


class AssignmentError(GraderError):
    """An assignment is unknown or its files are broken."""


class SubmissionError(GraderError):
    """A submission file cannot be read as Python or as a notebook."""


class GradebookError(GraderError):
    """The gradebook database cannot be used."""


class SandboxError(GraderError):
    """The sandbox cannot run on this host."""


class WorkerError(GraderError):
    """A local grading worker could not start (the host, not a submission, is at fault)."""


class ClusterError(GraderError):
    """The Dask cluster of ``--scheduler`` cannot be reached, has no workers, or lost one."""


class UsageError(GraderError):
    """Options or arguments that do not fit together."""


class RosterError(GraderError):
    """A ``--roster`` file that cannot be read as an LMS's class list."""


class ExportError(GraderError):
    """Grades that cannot be placed in an export (a student the roster does not know, an LMS column id missing)."""


class ArchiveError(GraderError):
    """An archive of submissions cannot be unpacked safely (too big, too many files, damaged)."""
