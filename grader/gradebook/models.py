"""Tables of the gradebook. History is kept: a regrade adds a run, it never overwrites one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # student id as graded (file stem or folder)


class AssignmentRow(Base):
    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # folder name under assignments/
    title: Mapped[str] = mapped_column(String(500), default="")


class SubmissionRow(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("student_id", "assignment_id", "content_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the file's bytes
    path: Mapped[str] = mapped_column(Text)  # where the file was when first graded
    submitted_at: Mapped[datetime] = mapped_column()  # when the grader first saw this content
    student: Mapped[Student] = relationship()
    runs: Mapped[list["GradingRun"]] = relationship(back_populates="submission", order_by="GradingRun.id")


class BatchRow(Base):
    """One command that stored runs: ``grader grade`` (``--force``) or ``grader regrade``."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    kind: Mapped[str] = mapped_column(String(20))  # grade | force | regrade
    assignment_version: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the version it graded with
    started_at: Mapped[datetime] = mapped_column()  # UTC, when its first result was stored
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)  # UTC; None: interrupted (or running)


class GradingRun(Base):
    __tablename__ = "grading_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    graded_at: Mapped[datetime] = mapped_column()  # UTC, when this run's result was stored
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # graded | error
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the file could not be graded
    error_where: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON Where the error points at
    fault: Mapped[str | None] = mapped_column(String(20), nullable=True)  # status error: submission | grader
    notes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {text, where}: skipped cells, magics
    output: Mapped[str] = mapped_column(Text, default="")  # the student's own stdout/stderr, capped
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds to grade the whole file
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)  # when the student submitted (UTC)
    submitted_at_source: Mapped[str | None] = mapped_column(String(20), nullable=True)  # option|manifest|lms|mtime
    days_late: Mapped[float] = mapped_column(Float, default=0.0)  # days after the due date; 0 when on time
    penalty: Mapped[float] = mapped_column(Float, default=0.0)  # points deducted for lateness (score is after it)
    late_by_lms: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # the LMS's LATE verdict, no time given
    batch_id: Mapped[int | None] = mapped_column(  # the command that stored it
        ForeignKey("batches.id", name="fk_grading_runs_batch_id_batches"), index=True, nullable=True)
    assignment_version: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of what grades it
    grader_version: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the grader package's version
    numpy_version: Mapped[str | None] = mapped_column(String(40), nullable=True)  # NumPy where it was graded
    torch_version: Mapped[str | None] = mapped_column(String(40), nullable=True)  # torch there (None: not installed)
    submission: Mapped[SubmissionRow] = relationship(back_populates="runs")
    checks: Mapped[list["CheckResultRow"]] = relationship(order_by="CheckResultRow.position",
                                                          cascade="all, delete-orphan")


class CheckResultRow(Base):
    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order of the check in checks.py
    name: Mapped[str] = mapped_column(String(200))  # the check function's name
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # passed | failed | error | timeout
    message: Mapped[str] = mapped_column(Text, default="")  # feedback shown to the student
    visibility: Mapped[str] = mapped_column(String(10), default="public")  # public | hidden
    description: Mapped[str] = mapped_column(Text, default="")  # first line of the check's docstring
    duration: Mapped[float] = mapped_column(Float, default=0.0)  # seconds
    reason: Mapped[str | None] = mapped_column(String(30), nullable=True)  # why it had no verdict (REASONS)
    where_label: Mapped[str | None] = mapped_column(String(300), nullable=True)  # "cell 4, line 3"
    where_cell: Mapped[int | None] = mapped_column(Integer, nullable=True)  # notebook cell (1-based)
    where_line: Mapped[int | None] = mapped_column(Integer, nullable=True)  # line in the cell or file
    where_source: Mapped[str | None] = mapped_column(Text, nullable=True)  # the student's line there
    metrics: Mapped[str] = mapped_column(Text, default="{}")  # JSON {name: number} the check measured
    labels: Mapped[str] = mapped_column(Text, default="{}")  # JSON {name: text} it recorded (leaderboard_name)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of a failed comparison
