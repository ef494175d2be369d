"""Fetching datasets from a local HTTP server: good, corrupt, truncated, hostile and offline archives."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from engine.datasets import archive as archive_module
from engine.datasets import catalog
from engine.datasets.archive import UnsafeArchive
from engine.datasets.catalog import CATALOG, HEAD_BYTES, DatasetError, UnknownDataset
from engine.datasets.fetch import (
    VERIFIED_MARKER,
    ChecksumMismatch,
    DownloadError,
    LayoutError,
    NoNetwork,
    NotFetched,
    dataset_path,
    fetch,
    resolve_data_arg,
    verify,
)
from tests.engine.dataset_archives import (
    LAYOUTS,
    ArchiveServer,
    closed_port_url,
    entry_for,
    layout_archive,
    serving,
    tgz,
    zip_archive,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    with serving() as state:
        yield state


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "datasets"


def leftovers(cache: Path) -> list[str]:
    """Anything a fetch should not leave behind: partial downloads and scratch folders."""
    return sorted(p.name for p in cache.iterdir() if p.name.endswith(".part") or ".extract-" in p.name)


# -- the real table, never contacted -------------------------------------------------------------------


def test_real_catalog_has_the_lesson_datasets_with_sound_facts() -> None:
    assert {"imdb", "imdb_sample", "wikitext-2", "wikitext-103", "adult_sample", "ml-100k"} <= set(CATALOG)
    for name, entry in CATALOG.items():
        url = urlparse(entry.url)
        assert url.scheme == "https", name
        assert url.netloc in {"s3.amazonaws.com", "files.grouplens.org"}, name
        assert entry.archive_name.endswith((".tgz", ".zip")), name
        assert catalog.looks_well_formed(entry) == [], name
        assert entry.check_kind in {"sha256", "head-md5"}, f"{name} has no published hash recorded"
        assert entry.name == name and entry.license and entry.license_name


def test_real_catalog_licenses_say_what_the_lesson_requires() -> None:
    assert "no redistribution" in CATALOG["ml-100k"].license
    assert "CC BY 4.0" in CATALOG["adult_sample"].license
    assert "CC BY-SA" in CATALOG["wikitext-103"].license
    assert "Maas et al. 2011" in CATALOG["imdb"].license


def test_catalog_rejects_malformed_facts() -> None:
    good = CATALOG["ml-100k"]
    bad = dataclasses.replace(good, size=0, sha256="ABC", head_md5="xyz", markers=("../u.data",))
    assert len(catalog.looks_well_formed(bad)) == 4


def test_importing_fetch_pulls_in_neither_torch_nor_pandas() -> None:
    code = (
        "import sys, engine.datasets.fetch; print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- good archives, every real layout ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_fetch_unpacks_each_real_layout_and_marks_it_verified(
    server: ArchiveServer, cache: Path, name: str
) -> None:
    data = layout_archive(name)
    entry = entry_for(name, data, server.url(CATALOG[name].archive_name))
    server.files[entry.archive_name] = data
    seen: list[tuple[int, int]] = []

    folder = fetch(entry, cache, progress=lambda done, total: seen.append((done, total)))

    assert folder == cache / CATALOG[name].folder
    for member, content in LAYOUTS[name].items():
        assert (cache / member).read_bytes() == content
    record = json.loads((folder / VERIFIED_MARKER).read_text())
    assert record["archive_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["files"] == len(LAYOUTS[name])
    assert seen[-1] == (len(data), len(data))
    assert leftovers(cache) == []


def test_a_fetched_dataset_is_not_downloaded_again(server: ArchiveServer, cache: Path, monkeypatch) -> None:
    data = layout_archive("adult_sample")
    entry = entry_for("adult_sample", data, server.url("adult_sample.tgz"))
    server.files["adult_sample.tgz"] = data
    monkeypatch.setitem(CATALOG, "adult_sample", entry)
    fetch("adult_sample", cache)
    fetch("adult_sample", cache)
    assert len(server.requests) == 1
    assert verify("adult_sample", cache).ok


def test_force_replaces_the_cached_folder(server: ArchiveServer, cache: Path) -> None:
    data = layout_archive("imdb_sample")
    entry = entry_for("imdb_sample", data, server.url("imdb_sample.tgz"))
    server.files["imdb_sample.tgz"] = data
    folder = fetch(entry, cache)
    (folder / "stray.txt").write_text("left by hand")
    fetch(entry, cache, force=True)
    assert not (folder / "stray.txt").exists()
    assert (folder / "texts.csv").exists() and len(server.requests) == 2
    assert [p.name for p in cache.iterdir() if ".old-" in p.name] == []


def test_a_folder_without_marker_is_not_overwritten_without_force(cache: Path) -> None:
    (cache / "imdb_sample").mkdir(parents=True)
    with pytest.raises(DatasetError, match="--force"):
        fetch(entry_for("imdb_sample", b"x", "http://127.0.0.1:9/none"), cache)


def test_a_file_url_installs_a_local_copy(tmp_path: Path, cache: Path) -> None:
    data = layout_archive("ml-100k")
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(data)
    entry = entry_for("ml-100k", data, "https://files.grouplens.org/datasets/movielens/ml-100k.zip")
    folder = fetch(entry, cache, url=archive.as_uri())
    assert (folder / "u.data").read_bytes() == LAYOUTS["ml-100k"]["ml-100k/u.data"]
    assert json.loads((folder / VERIFIED_MARKER).read_text())["url"] == archive.as_uri()


# -- checksums -----------------------------------------------------------------------------------------


def test_a_corrupt_archive_is_removed_and_both_hashes_are_shown(server: ArchiveServer, cache: Path) -> None:
    data = layout_archive("wikitext-2")
    entry = entry_for("wikitext-2", data, server.url("wikitext-2.tgz"))
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0xFF
    server.files["wikitext-2.tgz"] = bytes(corrupt)

    with pytest.raises(ChecksumMismatch) as caught:
        fetch(entry, cache)

    message = str(caught.value)
    assert entry.sha256 in message and hashlib.sha256(corrupt).hexdigest() in message
    assert caught.value.check == "sha256"
    assert not (cache / "wikitext-2").exists() and leftovers(cache) == []


def test_head_md5_checks_exactly_the_first_mib_as_fastai_publishes(
    server: ArchiveServer, cache: Path
) -> None:
    filler = random.Random(0).randbytes(HEAD_BYTES + 65536)  # incompressible: the archive passes 1 MiB
    data = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/filler.bin": filler})
    entry = entry_for("imdb_sample", data, server.url("imdb_sample.tgz"), check="head-md5")
    assert entry.check_kind == "head-md5" and entry.sha256 is None

    tampered = bytearray(data)
    tampered[HEAD_BYTES - 1] ^= 0x01
    server.files["imdb_sample.tgz"] = bytes(tampered)
    with pytest.raises(ChecksumMismatch, match="md5 of the first MiB"):
        fetch(entry, cache)

    # A change past the first MiB slips through that check; gzip's own CRC still stops the unpacking.
    tampered = bytearray(data)
    tampered[HEAD_BYTES + 100] ^= 0x01
    server.files["imdb_sample.tgz"] = bytes(tampered)
    with pytest.raises(DatasetError, match="damaged"):
        fetch(entry, cache)
    assert not (cache / "imdb_sample").exists() and leftovers(cache) == []

    server.files["imdb_sample.tgz"] = data
    folder = fetch(entry, cache)
    assert verify("imdb_sample", cache).check == "head-md5"
    assert (folder / "filler.bin").read_bytes() == filler


def test_size_only_entries_are_fetched_and_say_so(server: ArchiveServer, cache: Path, monkeypatch) -> None:
    data = layout_archive("movie_lens_sample")
    entry = entry_for("movie_lens_sample", data, server.url("movie_lens_sample.tgz"), check="size-only")
    monkeypatch.setitem(CATALOG, "movie_lens_sample", entry)
    server.files["movie_lens_sample.tgz"] = data
    fetch("movie_lens_sample", cache)
    result = verify("movie_lens_sample", cache)
    assert result.ok and "size-only" in result.summary


def test_a_server_announcing_another_size_is_refused_before_downloading(
    server: ArchiveServer, cache: Path
) -> None:
    data = layout_archive("adult_sample")
    entry = entry_for("adult_sample", data, server.url("adult_sample.tgz"))
    server.files["adult_sample.tgz"] = data
    server.claimed_length["adult_sample.tgz"] = len(data) + 10
    with pytest.raises(ChecksumMismatch, match=f"expected {len(data)} bytes"):
        fetch(entry, cache)
    assert leftovers(cache) == []


# -- truncated downloads and resume ---------------------------------------------------------------------


def test_an_interrupted_download_keeps_its_part_and_resumes_with_a_range(
    server: ArchiveServer, cache: Path
) -> None:
    data = layout_archive("ml-100k")
    entry = entry_for("ml-100k", data, server.url("ml-100k.zip"))
    server.files["ml-100k.zip"] = data
    cut = len(data) // 3
    server.cut_once["ml-100k.zip"] = cut

    with pytest.raises(DownloadError, match="interrupted"):
        fetch(entry, cache)
    assert (cache / "ml-100k.part").stat().st_size == cut
    assert not (cache / "ml-100k").exists()
    assert verify("ml-100k", cache).state == "partial download"

    folder = fetch(entry, cache)
    assert server.requests[-1] == ("ml-100k.zip", f"bytes={cut}-")
    assert (folder / "u.user").read_bytes() == LAYOUTS["ml-100k"]["ml-100k/u.user"]
    assert leftovers(cache) == []


def test_a_server_ignoring_ranges_restarts_the_file(server: ArchiveServer, cache: Path) -> None:
    data = layout_archive("wikitext-103")
    entry = entry_for("wikitext-103", data, server.url("wikitext-103.tgz"))
    server.files["wikitext-103.tgz"] = data
    server.ignore_range = True
    cache.mkdir(parents=True)
    (cache / "wikitext-103.part").write_bytes(b"garbage-that-must-not-stay")
    folder = fetch(entry, cache)
    assert server.requests[-1][1] == "bytes=26-"
    assert (folder / "valid.txt").exists()


def test_a_complete_part_is_checked_without_downloading(server: ArchiveServer, cache: Path) -> None:
    data = layout_archive("imdb")
    entry = entry_for("imdb", data, server.url("imdb.tgz"))
    cache.mkdir(parents=True)
    (cache / "imdb.part").write_bytes(data)
    folder = fetch(entry, cache)
    assert server.requests == [] and (folder / "train" / "pos" / "0_9.txt").exists()


def test_a_part_longer_than_the_archive_is_thrown_away(server: ArchiveServer, cache: Path) -> None:
    data = layout_archive("imdb_sample")
    entry = entry_for("imdb_sample", data, server.url("imdb_sample.tgz"))
    server.files["imdb_sample.tgz"] = data
    cache.mkdir(parents=True)
    (cache / "imdb_sample.part").write_bytes(data + b"tail")
    fetch(entry, cache)
    assert server.requests == [("imdb_sample.tgz", None)]


def test_a_range_past_the_servers_end_restarts_then_reports_the_size(
    server: ArchiveServer, cache: Path
) -> None:
    data = layout_archive("imdb_sample")
    entry = entry_for("imdb_sample", data, server.url("imdb_sample.tgz"))
    server.files["imdb_sample.tgz"] = data[: len(data) // 4]  # the server's copy shrank
    cache.mkdir(parents=True)
    (cache / "imdb_sample.part").write_bytes(data[: len(data) // 2])
    with pytest.raises(ChecksumMismatch, match="size mismatch"):
        fetch(entry, cache)
    assert server.requests == [("imdb_sample.tgz", f"bytes={len(data) // 2}-"), ("imdb_sample.tgz", None)]
    assert leftovers(cache) == []


# -- hostile archives ---------------------------------------------------------------------------------


def hostile(
    tmp_path: Path, server: ArchiveServer, cache: Path, data: bytes, refusal: str, name: str = "imdb_sample"
) -> None:
    """Fetch `data` as dataset `name`, expecting refusal with nothing left behind anywhere."""
    entry = entry_for(name, data, server.url(CATALOG[name].archive_name))
    server.files[entry.archive_name] = data
    cache.mkdir(parents=True)
    before = set(tmp_path.iterdir())
    with pytest.raises(UnsafeArchive, match=refusal):
        fetch(entry, cache)
    assert set(tmp_path.iterdir()) == before
    assert [p.name for p in cache.iterdir()] == [f".{name}.lock"]  # no folder, no .part, no scratch


def test_a_file_then_a_folder_of_the_same_name_is_refused(
    tmp_path: Path, server: ArchiveServer, cache: Path
) -> None:
    data = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/x": b"file", "imdb_sample/x/y": b"inside"})
    hostile(tmp_path, server, cache, data, "clashes with another member")


def test_a_folder_then_a_file_of_the_same_name_is_refused(
    tmp_path: Path, server: ArchiveServer, cache: Path
) -> None:
    data = zip_archive({**LAYOUTS["ml-100k"], "ml-100k/d/f": b"inside", "ml-100k/d": b"file"})
    hostile(tmp_path, server, cache, data, "clashes with another member", name="ml-100k")


def test_a_name_too_long_for_the_file_system_is_refused(
    tmp_path: Path, server: ArchiveServer, cache: Path
) -> None:
    data = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/" + "n" * 300: b"x"})
    hostile(tmp_path, server, cache, data, "longer than 255 bytes")


def test_a_path_2000_folders_deep_is_refused(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    data = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/" + "d/" * 2000 + "f": b"x"})
    hostile(tmp_path, server, cache, data, "2002 path parts")


def test_a_path_too_long_in_all_is_a_dataset_error_and_cleaned_up(
    tmp_path: Path, server: ArchiveServer, cache: Path
) -> None:
    data = tgz({**LAYOUTS["imdb_sample"], "imdb_sample/" + ("p" * 250 + "/") * 30 + "f": b"x"})
    entry = entry_for("imdb_sample", data, server.url(CATALOG["imdb_sample"].archive_name))
    server.files[entry.archive_name] = data
    with pytest.raises(DatasetError, match="could not be unpacked"):
        fetch(entry, cache)
    assert [p.name for p in cache.iterdir()] == [".imdb_sample.lock"]


@pytest.mark.parametrize("pack", [tgz, zip_archive])
def test_an_archive_that_unpacks_far_beyond_its_size_is_refused(
    tmp_path: Path, server: ArchiveServer, cache: Path, monkeypatch: pytest.MonkeyPatch, pack
) -> None:
    monkeypatch.setattr(archive_module, "EXPANSION_FLOOR_BYTES", 2**20)  # keep the bomb small and quick
    name = "imdb_sample" if pack is tgz else "ml-100k"
    data = pack({**LAYOUTS[name], f"{name}/zeros": bytes(32 * 2**20)})  # ~32 KiB packed, 32 MiB unpacked
    assert len(data) * archive_module.MAX_EXPANSION < 32 * 2**20
    hostile(tmp_path, server, cache, data, "decompression bomb", name=name)


def test_a_path_traversal_member_is_rejected(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    members = {**LAYOUTS["imdb_sample"], "imdb_sample/../../../evil.txt": b"owned"}
    hostile(tmp_path, server, cache, tgz(members), "climbs out")
    assert not (tmp_path / "evil.txt").exists()


def test_an_absolute_member_is_rejected(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    data = tgz({**LAYOUTS["imdb_sample"], str(tmp_path / "abs.txt"): b"owned"})
    hostile(tmp_path, server, cache, data, "absolute path")
    assert not (tmp_path / "abs.txt").exists()


def test_a_zip_traversal_member_is_rejected(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    data = zip_archive({**LAYOUTS["ml-100k"], "../evil.txt": b"x"})
    hostile(tmp_path, server, cache, data, "climbs out", name="ml-100k")


def test_a_symlink_member_is_rejected(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    data = tgz(LAYOUTS["imdb_sample"], symlinks={"imdb_sample/passwd": "/etc/passwd"})
    hostile(tmp_path, server, cache, data, "symbolic link to '/etc/passwd'")


def test_a_zip_symlink_member_is_rejected(tmp_path: Path, server: ArchiveServer, cache: Path) -> None:
    data = zip_archive(LAYOUTS["ml-100k"], symlinks={"ml-100k/link": "../../../etc"})
    hostile(tmp_path, server, cache, data, "symbolic link", name="ml-100k")


def test_a_hard_link_outside_the_archive_is_rejected(
    tmp_path: Path, server: ArchiveServer, cache: Path
) -> None:
    data = tgz(LAYOUTS["imdb_sample"], hardlinks={"imdb_sample/shadow": "/etc/shadow"})
    hostile(tmp_path, server, cache, data, "hard link to '/etc/shadow'")


def test_a_hard_link_to_an_earlier_member_is_copied(server: ArchiveServer, cache: Path) -> None:
    data = tgz(LAYOUTS["imdb_sample"], hardlinks={"imdb_sample/copy.csv": "imdb_sample/texts.csv"})
    entry = entry_for("imdb_sample", data, server.url("imdb_sample.tgz"))
    server.files["imdb_sample.tgz"] = data
    folder = fetch(entry, cache)
    assert (folder / "copy.csv").read_bytes() == (folder / "texts.csv").read_bytes()
    assert not (folder / "copy.csv").is_symlink()


def test_an_archive_missing_layout_files_leaves_no_folder(server: ArchiveServer, cache: Path) -> None:
    data = tgz({"wikitext-103/train.txt": b"only train"})
    entry = entry_for("wikitext-103", data, server.url("wikitext-103.tgz"))
    server.files["wikitext-103.tgz"] = data
    with pytest.raises(LayoutError, match="valid.txt, test.txt"):
        fetch(entry, cache)
    assert not (cache / "wikitext-103").exists() and leftovers(cache) == []


def test_garbage_instead_of_an_archive_is_a_clear_error(server: ArchiveServer, cache: Path) -> None:
    data = b"<html>Access Denied</html>"
    entry = entry_for("adult_sample", data, server.url("adult_sample.tgz"))
    server.files["adult_sample.tgz"] = data
    with pytest.raises(DatasetError, match="neither a tar nor a zip"):
        fetch(entry, cache)
    assert not (cache / "adult_sample").exists()


# -- network trouble ----------------------------------------------------------------------------------


def test_offline_says_so_and_points_to_data_path(cache: Path) -> None:
    entry = entry_for("imdb", b"x" * 10, closed_port_url("imdb.tgz"))
    with pytest.raises(NoNetwork) as caught:
        fetch(entry, cache, timeout=5)
    message = str(caught.value)
    assert message.startswith("no network") and "--data PATH" in message and "imdb.tgz" in message
    assert leftovers(cache) == []


def test_an_http_error_names_the_status(server: ArchiveServer, cache: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(entry_for("imdb", b"x", server.url("missing.tgz")), cache)


# -- verify, dataset_path and --data -------------------------------------------------------------------


@pytest.fixture
def fetched_adult(server: ArchiveServer, cache: Path, monkeypatch) -> Path:
    data = layout_archive("adult_sample")
    entry = entry_for("adult_sample", data, server.url("adult_sample.tgz"))
    server.files["adult_sample.tgz"] = data
    monkeypatch.setitem(CATALOG, "adult_sample", entry)
    return fetch("adult_sample", cache)


def test_verify_notices_a_removed_or_grown_file(fetched_adult: Path, cache: Path) -> None:
    assert verify("adult_sample", cache).ok
    with open(fetched_adult / "adult.csv", "ab") as handle:
        handle.write(b"1,2,3,4\n")
    grown = verify("adult_sample", cache)
    assert grown.state == "broken" and "when fetched" in grown.summary
    (fetched_adult / "adult.csv").unlink()
    assert "missing adult.csv" in verify("adult_sample", cache).problems


def test_verify_flags_a_folder_without_marker_and_a_partial_download(cache: Path) -> None:
    (cache / "imdb_sample").mkdir(parents=True)
    assert verify("imdb_sample", cache).state == "broken"
    (cache / "ml-100k.part").write_bytes(b"half")
    assert verify("ml-100k", cache).state == "partial download"
    assert verify("imdb", cache).state == "not fetched"


def test_verify_flags_a_dataset_fetched_from_another_archive(
    fetched_adult: Path, cache: Path, monkeypatch
) -> None:
    monkeypatch.setitem(
        CATALOG, "adult_sample", dataclasses.replace(CATALOG["adult_sample"], sha256="0" * 64)
    )
    assert "another archive" in verify("adult_sample", cache).summary


def test_dataset_path_tells_how_to_fetch_a_missing_dataset(cache: Path) -> None:
    with pytest.raises(NotFetched, match="cardlab data fetch wikitext-103"):
        dataset_path("wikitext-103", cache)


def test_resolve_data_arg_takes_a_name_or_a_path(fetched_adult: Path, cache: Path, tmp_path: Path) -> None:
    assert resolve_data_arg("adult_sample", cache) == fetched_adult
    own = tmp_path / "my_adult.csv"
    own.write_text("age\n1\n")
    assert resolve_data_arg(str(own), cache) == own
    with pytest.raises(NotFetched, match="cardlab data fetch ml-100k"):
        resolve_data_arg("ml-100k", cache)
    with pytest.raises(UnknownDataset, match="Did you mean 'imdb'"):
        resolve_data_arg("imbd", cache)
    with pytest.raises(DatasetError, match="no such file"):
        resolve_data_arg("./nowhere.csv", cache)


def test_resolve_data_arg_accepts_a_home_with_datasets_dir(fetched_adult: Path, cache: Path) -> None:
    class FakeHome:
        datasets_dir = cache

    assert resolve_data_arg("adult_sample", FakeHome()) == fetched_adult
    assert os.fspath(dataset_path("adult_sample", FakeHome())) == os.fspath(fetched_adult)
