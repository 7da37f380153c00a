"""Unpacking archives of submissions: nothing outside the folder, bounded, names of any bytes, untrusted times."""

from __future__ import annotations

import os
import time
import zipfile
from datetime import datetime

import pytest

from grader.errors import ArchiveError
from grader.intake.archives import MARKER, ArchiveLimits, safe_name, unpack
from grader.intake.times import file_time

from lms import DEVICE, SYMLINK, add_special, make_zip, set_declared_size


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def test_a_plain_archive_unpacks_beside_itself_with_its_times(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {"ann/perceptron.py": b"x = 1\n", "bob.py": b"y = 2\n"},
                       date_time=(2026, 10, 1, 20, 30, 0))
    unpacked = unpack(archive)
    assert unpacked.root == tmp_path / "class.unpacked" and not unpacked.reused
    assert files_under(unpacked.root) == ["ann/perceptron.py", "bob.py"]
    assert (unpacked.root / "bob.py").read_bytes() == b"y = 2\n"
    assert (unpacked.files, unpacked.bytes, unpacked.refused) == (2, 12, [])
    # The zip's (local) time becomes the file's: an mtime, which the student sets and which is flagged.
    assert file_time(unpacked.root / "bob.py") == datetime(2026, 10, 1, 20, 30).astimezone()
    assert not (unpacked.root / "bob.py").stat().st_mode & 0o111  # never executable
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_unpacking_the_same_archive_again_reuses_the_folder_and_another_is_refused(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {"ann.py": b"x = 1\n"})
    first = unpack(archive)
    (first.root / "ann.py").touch()  # any change a TA made there stays
    again = unpack(archive)
    assert again.reused and again.root == first.root and again.files == 1
    make_zip(archive, {"ann.py": b"x = 2\n"})  # a new download under the same name
    with pytest.raises(ArchiveError, match=r"class.unpacked already exists and was not unpacked from class.zip as it "
                                           r"is now; delete that folder, or unpack somewhere else with --unpack-to DIR"):
        unpack(archive)


HOSTILE = {
    "../escape.py": b"print('outside')\n",
    "/etc/cron.d/evil.py": b"x = 1\n",
    "ok/../../up.py": b"x = 1\n",
    "C:/windows/evil.py": b"x = 1\n",
    "..\\..\\win.py": b"x = 1\n",
    "good/perceptron.py": b"x = 1\n",
}


def test_members_outside_the_folder_links_and_devices_are_refused_never_created(tmp_path):
    archive = make_zip(tmp_path / "evil.zip", HOSTILE)
    add_special(archive, "good/link.py", SYMLINK, b"/work/wt-intake/reference/perceptron.py")
    add_special(archive, "good/tty", DEVICE)
    unpacked = unpack(archive, into=tmp_path / "out" / "evil")
    assert files_under(unpacked.root) == ["good/perceptron.py"]
    refused = {r.name: (r.kind, r.reason) for r in unpacked.refused}
    for name in ("../escape.py", "/etc/cron.d/evil.py", "ok/../../up.py", "C:/windows/evil.py", "..\\..\\win.py"):
        assert refused[name] == ("path", "its path leads outside the folder (absolute, or with ..)")
    assert refused["good/link.py"] == ("link", "a symbolic link (never unpacked)")
    assert refused["good/tty"] == ("special", "a device file, FIFO or socket (never unpacked)")
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "out" / "escape.py").exists()
    assert not any(p.is_symlink() for p in (tmp_path / "out").rglob("*"))


def test_names_of_any_bytes_are_stored_safe_unique_and_shown_printable(tmp_path):
    long_name = "a" * 251 + ".py"  # 255 bytes: more than a safe name keeps
    archive = make_zip(tmp_path / "odd.zip", {
        b"caf\xe9.py": b"latin1 = 1\n",  # not UTF-8 (a Latin-1 zip tool)
        b"caf\xe8.py": b"latin1 = 2\n",  # shows the same once made printable: stored apart
        "new\nline\x1b[31m.py": b"x = 1\n",  # newline and an ANSI escape
        long_name: b"x = 2\n",
        "zoë/perceptron.py": b"x = 3\n",  # UTF-8 is kept as it is
        MARKER: b"{}",  # a member may not pose as the unpacking's own record
    })
    unpacked = unpack(archive)
    stored = files_under(unpacked.root)
    assert len(stored) == 6 and "zoë/perceptron.py" in stored
    for name in stored:
        assert len(os.fsencode(name.split("/")[-1])) <= 120 and name.isprintable()
    renamed = {original: stored_as for stored_as, original in unpacked.renamed.items()}
    assert renamed["caf\ufffd.py"].startswith("caf\ufffd~") and renamed["caf\ufffd.py"].endswith(".py")
    assert renamed["new line.py"].startswith("new line~") and "\x1b" not in renamed["new line.py"]
    assert renamed[long_name].startswith("a" * 60 + "~") and renamed[long_name].endswith(".py")
    assert (unpacked.root / renamed[long_name]).read_bytes() == b"x = 2\n"
    assert "zoë/perceptron.py" not in unpacked.renamed
    assert safe_name(b"caf\xe9.py") != safe_name(b"caf\xe8.py")  # a hash of the raw bytes keeps them apart
    assert safe_name("perceptron.py".encode()) == "perceptron.py"


def test_a_member_name_that_lies_about_being_utf8_refuses_the_archive_in_one_line(tmp_path):
    archive = make_zip(tmp_path / "broken.zip", {"\u00e9t\u00e9.py": b"x = 1\n"})  # written with the UTF-8 flag
    archive.write_bytes(archive.read_bytes().replace("\u00e9t\u00e9".encode(), b"\xff\xfet\xfd\xfc"))
    with pytest.raises(ArchiveError, match="has a member whose name says it is UTF-8 and is not"):
        unpack(archive)


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("zeros.py", b"\0" * (8 * 2**20))  # 8 MiB of zeros: a few KiB compressed
    limits = ArchiveLimits(total_bytes=4 * 2**20, member_bytes=16 * 2**20)
    with pytest.raises(ArchiveError, match=r"bomb.zip would unpack to 8 MiB, over the 4 MiB limit \(a zip bomb"):
        unpack(archive, limits=limits)
    assert not (tmp_path / "bomb.unpacked").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.zip"]


def test_a_bomb_that_lies_about_its_size_stops_at_what_it_declared(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("zeros.py", b"\0" * (8 * 2**20))
        bomb.writestr("perceptron.py", b"x = 1\n")
    set_declared_size(archive, "zeros.py", 1000)  # claims 1000 bytes, holds 8 MiB
    unpacked = unpack(archive, limits=ArchiveLimits(total_bytes=2 * 2**20))
    assert files_under(unpacked.root) == ["perceptron.py"]
    assert [(r.name, r.kind) for r in unpacked.refused] == [("zeros.py", "damaged")]
    assert unpacked.bytes == 6  # the liar's bytes were never kept


def test_too_many_members_or_a_huge_member_claimed_by_the_header(tmp_path):
    many = make_zip(tmp_path / "many.zip", {f"f{i}.py": b"" for i in range(30)})
    with pytest.raises(ArchiveError, match="many.zip has 30 members, more than the 20 an archive of submissions may have"):
        unpack(many, limits=ArchiveLimits(members=20))
    big = make_zip(tmp_path / "big.zip", {"video.mp4": b"\0" * 3000, "perceptron.py": b"x = 1\n"})
    unpacked = unpack(big, limits=ArchiveLimits(member_bytes=1000))
    assert files_under(unpacked.root) == ["perceptron.py"]
    assert [(r.name, r.kind) for r in unpacked.refused] == [("video.mp4", "too_large")]
    # The header alone can claim more than a zip bomb's bound: refused without reading anything.
    claims = make_zip(tmp_path / "claims.zip", {"a.py": b"x"})
    set_declared_size(claims, "a.py", 3 * 2**30)
    with pytest.raises(ArchiveError, match=r"claims.zip would unpack to 3072 MiB, over the 2048 MiB limit"):
        unpack(claims)


def test_times_no_zip_can_hold_or_in_the_future_are_no_time(tmp_path):
    archive = make_zip(tmp_path / "times.zip", {"old.py": b"x = 1\n"}, date_time=(1980, 0, 0, 0, 0, 0))
    future = make_zip(tmp_path / "future.zip", {"new.py": b"x = 1\n"}, date_time=(2099, 1, 1, 0, 0, 0))
    assert file_time(unpack(archive).root / "old.py") is None  # month 0: not a date
    assert file_time(unpack(future).root / "new.py") is None
    assert (tmp_path / "future.unpacked" / "new.py").stat().st_mtime == 0


def test_a_file_that_is_not_a_zip_is_one_clear_error(tmp_path):
    fake = tmp_path / "notes.zip"
    fake.write_text("not a zip\n")
    with pytest.raises(ArchiveError, match=r"notes.zip is not a zip archive, or is damaged"):
        unpack(fake)


def test_unpacking_a_300_student_canvas_download_is_quick(tmp_path):
    members = {f"student{i:03d}_{10000 + i}_{50000 + i}_perceptron.py": b"x = %d\n" % i for i in range(300)}
    archive = make_zip(tmp_path / "canvas.zip", members)
    started = time.perf_counter()
    unpacked = unpack(archive)
    assert unpacked.files == 300
    assert time.perf_counter() - started < 5  # ~0.05 s here; the bound only catches something pathological
