"""Unpacking an archive of submissions (an LMS's ``.zip`` download), safely.

Everything in such an archive is the students' or the LMS's to choose: member names, kinds,
sizes and times. So unpacking:

- writes only regular files, each created (``O_EXCL | O_NOFOLLOW``) in a fresh folder of its
  own: no member lands outside it (absolute paths, drive letters and ``..`` are refused) and
  symbolic links, devices, FIFOs and sockets are refused, never created;
- bounds the archive's size, its number of members, each member's size and the bytes
  actually written in all (a zip bomb stops at the bound; declared sizes are checked first);
- stores a name of any bytes (invalid UTF-8, control characters, 255 bytes) under a safe,
  unique, length-capped name, remembering the original for display;
- keeps the archive's file times as the files' modification times. They stay the students'
  to set, so they are only ever used as ``mtime`` submission times, which are flagged; a time
  no zip can hold (before 1980) or one in the future becomes the epoch, which ``times``
  reads as "no time".

An archive is unpacked into ``<stem>.unpacked/`` beside it (or into a folder of the caller's),
through a temporary folder renamed once everything is written, with a record of what was
refused: an interrupted unpacking leaves nothing that looks finished, and unpacking the same
archive again reuses the folder (its files keep their paths, so grading is skipped for them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from grader.errors import ArchiveError
from grader.text import clean_name

#: The record of an unpacking, kept in the folder it made (layouts never list it).
MARKER = ".grader-unpacked.json"
#: Bytes of one stored file or folder name; longer or unsafe names are stored shortened.
MAX_NAME_BYTES = 120
_CHUNK = 1 << 20
_ZIP_EPOCH = 1980
#: Whether the zip's "UTF-8 names" flag is set on a member.
_UTF8_FLAG = 0x800


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one archive may hold before it is refused (or, for one member, that member)."""

    #: Members (files and folders) in the archive.
    members: int = 20_000
    #: Bytes of one unpacked file; a larger member is skipped and listed.
    member_bytes: int = 64 * 1024 * 1024
    #: Bytes of all unpacked files together, and of the archive itself.
    total_bytes: int = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Refused:
    """A member that was not unpacked, and why."""

    #: The member's name as it can be shown (any bytes made printable).
    name: str
    #: Why, in a few words.
    reason: str
    #: ``path`` (outside the folder), ``link``, ``special``, ``encrypted``, ``too_large``,
    #: ``damaged``, ``duplicate`` or ``conflict``.
    kind: str


@dataclass
class Unpacked:
    """Where an archive was unpacked and what did not come out of it."""

    archive: Path
    root: Path
    refused: list[Refused] = field(default_factory=list)
    #: Stored path (relative to ``root``, ``/``-separated) -> the member's original name, shown
    #: safely, for members whose own name was not safe to store.
    renamed: dict[str, str] = field(default_factory=dict)
    #: Files written, and their bytes.
    files: int = 0
    bytes: int = 0
    #: True when an earlier unpacking of the same archive was reused.
    reused: bool = False


def default_folder(archive: Path, unpack_to: Path | None = None) -> Path:
    """``<stem>.unpacked`` beside the archive, or inside ``unpack_to``."""
    name = f"{archive.stem}.unpacked"
    return (Path(unpack_to) if unpack_to is not None else archive.parent) / name


def unpack(archive: Path, *, into: Path | None = None, limits: ArchiveLimits = ArchiveLimits()) -> Unpacked:
    """Unpack the zip ``archive`` into ``into`` (default: ``default_folder``); reuse an earlier
    unpacking of the same bytes there. ``ArchiveError`` when the archive is refused as a whole."""
    archive = Path(archive)
    target = Path(into) if into is not None else default_folder(archive)
    shown = clean_name(str(archive), 500)
    try:
        size = archive.stat().st_size
    except OSError as exc:
        raise ArchiveError(f"cannot read the archive {shown}: {exc.strerror}") from None
    if size > limits.total_bytes:
        raise ArchiveError(f"{shown} is {size / 2**20:.0f} MiB, over the {limits.total_bytes / 2**20:.0f} MiB "
                           "an archive of submissions may have; split it, or unpack it yourself and grade the folder")
    digest = _sha256(archive)
    if target.exists():
        return _reuse(archive, target, digest)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        raise ArchiveError(f"cannot unpack {shown} into {clean_name(str(target.parent), 500)} ({exc.strerror}); "
                           "give a writable folder with --unpack-to") from None
    try:
        unpacked = _extract(archive, work, limits)
        unpacked.root = target
        (work / MARKER).write_text(json.dumps({
            "archive": archive.name, "sha256": digest,
            "refused": [asdict(r) for r in unpacked.refused], "renamed": unpacked.renamed,
            "files": unpacked.files, "bytes": unpacked.bytes}))
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return unpacked


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _reuse(archive: Path, target: Path, digest: str) -> Unpacked:
    try:
        record = json.loads((target / MARKER).read_text())
        if record["sha256"] != digest:
            raise ValueError("another archive")
        return Unpacked(archive, target, [Refused(**r) for r in record["refused"]], dict(record["renamed"]),
                        int(record["files"]), int(record["bytes"]), reused=True)
    except (OSError, ValueError, KeyError, TypeError):
        raise ArchiveError(f"{clean_name(str(target), 500)} already exists and was not unpacked from "
                           f"{clean_name(archive.name)} as it is now; delete that folder, or unpack somewhere "
                           "else with --unpack-to DIR") from None


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The member name's bytes as the archive stores them (zipfile decoded them as UTF-8 when the
    archive says so, else as cp437, which maps every byte)."""
    if info.flag_bits & _UTF8_FLAG:
        return info.orig_filename.encode("utf-8", "surrogateescape")
    return info.orig_filename.encode("cp437")


def _shown(raw: bytes) -> str:
    return clean_name(raw, 300)


def _components(raw: bytes) -> list[bytes] | None:
    """The member's path as components, or None when it would leave the folder."""
    path = raw.replace(b"\\", b"/")  # an archive made on Windows may separate with backslashes
    if path.startswith(b"/") or (len(path) >= 2 and path[1:2] == b":"):
        return None
    parts = [p for p in path.split(b"/") if p not in (b"", b".")]
    if any(p == b".." for p in parts):
        return None
    return parts


def safe_name(raw: bytes) -> str:
    """A file or folder name that is safe to create and to show for the name ``raw``: ``raw``
    itself when it is printable UTF-8 of at most ``MAX_NAME_BYTES``, else a printable, shortened
    form of it with a hash of the original bytes, so that two odd names never collide."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if (text and len(raw) <= MAX_NAME_BYTES and clean_name(text, 10_000) == text and text.strip() == text
            and not text.startswith(".grader-")):
        return text
    shown = clean_name(raw, 10_000).replace("/", "_") or "file"
    stem, dot, suffix = shown.rpartition(".")
    if not dot or not (0 < len(suffix) <= 8 and suffix.isascii() and suffix.isalnum()):
        stem, suffix = shown, ""
    stem = stem.encode("utf-8")[:60].decode("utf-8", "ignore").strip() or "file"
    digest = hashlib.sha256(raw).hexdigest()[:8]
    return f"{stem}~{digest}" + (f".{suffix}" if suffix else "")


def _file_time(info: zipfile.ZipInfo) -> float:
    """The member's time as a POSIX timestamp (zip times are local, as ``unzip`` reads them), or 0."""
    try:
        moment = datetime(*info.date_time)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if moment.year < _ZIP_EPOCH:
        return 0.0
    stamp = time.mktime(moment.timetuple())
    return stamp if stamp <= time.time() + 86400 else 0.0


def _kind_refusal(info: zipfile.ZipInfo) -> tuple[str, str] | None:
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode):  # made on Unix: the mode says what it is
        if stat.S_ISLNK(mode):
            return "link", "a symbolic link (never unpacked)"
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return "special", "a device file, FIFO or socket (never unpacked)"
    if info.flag_bits & 0x1:
        return "encrypted", "encrypted (unpack it yourself with its password)"
    return None


def _open(archive: Path) -> zipfile.ZipFile:
    shown = clean_name(str(archive), 500)
    try:
        return zipfile.ZipFile(archive)
    except UnicodeDecodeError:
        raise ArchiveError(f"{shown} has a member whose name says it is UTF-8 and is not: the archive is damaged "
                           "or hand-made; re-create it") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveError(f"{shown} is not a zip archive, or is damaged ({clean_name(str(exc), 200)})") from None


def _extract(archive: Path, work: Path, limits: ArchiveLimits) -> Unpacked:
    shown = clean_name(str(archive), 500)
    unpacked = Unpacked(archive, work)
    with _open(archive) as zipped:
        members = zipped.infolist()
        if len(members) > limits.members:
            raise ArchiveError(f"{shown} has {len(members)} members, more than the {limits.members} an archive of "
                               "submissions may have")
        declared = sum(m.file_size for m in members if not m.is_dir())
        if declared > limits.total_bytes:
            raise ArchiveError(f"{shown} would unpack to {declared / 2**20:.0f} MiB, over the "
                               f"{limits.total_bytes / 2**20:.0f} MiB limit (a zip bomb, or too big to grade from)")
        plan = _placements(members, unpacked)
        for info, parts in plan:
            _write_member(zipped, info, parts, work, unpacked, limits, shown)
    return unpacked


def _placements(members: list[zipfile.ZipInfo], unpacked: Unpacked) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """Where each member goes (safe components), refusing what must not be unpacked. Of members
    with the same name, the last is unpacked, as ``unzip`` and Python's zipfile would."""
    placed: dict[tuple[str, ...], tuple[zipfile.ZipInfo, bytes]] = {}
    order: list[tuple[str, ...]] = []
    for info in members:
        raw = _raw_name(info)
        if info.is_dir():
            continue  # folders are made for the files in them
        refusal = _kind_refusal(info)
        parts = _components(raw)
        if parts is None:
            refusal = ("path", "its path leads outside the folder (absolute, or with ..)")
        elif not parts:
            refusal = refusal or ("path", "it has no name")
        if refusal is not None:
            unpacked.refused.append(Refused(_shown(raw), refusal[1], refusal[0]))
            continue
        safe = tuple(safe_name(p) for p in parts)
        if safe in placed:
            earlier = placed[safe][1]
            if earlier == raw:
                unpacked.refused.append(Refused(_shown(raw), "it appears again later in the archive; the later "
                                                             "copy is unpacked", "duplicate"))
            else:  # two names that became the same safe name: keep both, apart
                safe = safe[:-1] + (safe_name(raw.replace(b"/", b"_")),)
        if safe not in placed:
            order.append(safe)
        placed[safe] = (info, raw)
        if any(s.encode("utf-8") != p for s, p in zip(safe, parts)):
            unpacked.renamed["/".join(safe)] = _shown(raw)
    return [(placed[key][0], list(key)) for key in order]


def _write_member(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, parts: list[str], work: Path,
                  unpacked: Unpacked, limits: ArchiveLimits, shown_archive: str) -> None:
    name = _shown(_raw_name(info))
    if info.file_size > limits.member_bytes:
        unpacked.refused.append(Refused(name, f"{info.file_size / 2**20:.0f} MiB, over the "
                                              f"{limits.member_bytes / 2**20:.0f} MiB a file may have", "too_large"))
        return
    target = work.joinpath(*parts)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        unpacked.refused.append(Refused(name, f"cannot be stored ({exc.strerror or exc}): a file and a folder "
                                              "of the same name, or a path too long", "conflict"))
        return
    written = 0
    try:
        with os.fdopen(descriptor, "wb") as out, zipped.open(info) as source:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > limits.member_bytes:
                    raise _TooLarge()
                if unpacked.bytes + written > limits.total_bytes:
                    raise ArchiveError(f"{shown_archive} unpacks to more than {limits.total_bytes / 2**20:.0f} MiB "
                                       "(a zip bomb, or too big to grade from)")
                out.write(chunk)
    except _TooLarge:
        target.unlink(missing_ok=True)
        unpacked.refused.append(Refused(name, f"unpacks to more than {limits.member_bytes / 2**20:.0f} MiB",
                                        "too_large"))
        return
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        unpacked.refused.append(Refused(name, f"damaged or unreadable ({clean_name(str(exc), 120)})", "damaged"))
        return
    stamp = _file_time(info)
    os.utime(target, (stamp, stamp))
    unpacked.files += 1
    unpacked.bytes += written


class _TooLarge(Exception):
    pass
