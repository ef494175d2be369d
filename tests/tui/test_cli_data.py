"""`cardlab data list|fetch|verify|path` against a local HTTP server: output and exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.datasets.catalog import CATALOG
from tests.engine.dataset_archives import ArchiveServer, closed_port_url, entry_for, layout_archive, serving
from tui.cli import main


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    with serving() as state:
        yield state


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def serve(
    server: ArchiveServer, monkeypatch: pytest.MonkeyPatch, name: str, data: bytes | None = None
) -> bytes:
    """Point catalog entry `name` at the local server, which serves `data` (default: a good archive)."""
    good = layout_archive(name)
    monkeypatch.setitem(CATALOG, name, entry_for(name, good, server.url(CATALOG[name].archive_name)))
    server.files[CATALOG[name].archive_name] = good if data is None else data
    return good


def run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_dataset_with_size_license_and_state(capsys, home: Path) -> None:
    code, out, _ = run(capsys, home, "list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for name in CATALOG:
        assert name in rows
    assert "144.4 MB" in rows["imdb"] and "research use" in rows["imdb"]
    assert "CC BY 4.0" in rows["adult_sample"] and "GroupLens" in rows["ml-100k"]
    assert rows["wikitext-103"].split()[-2:] == ["no", "-"]
    assert f"cache: {home / 'cache' / 'datasets'}" in out


def test_fetch_shows_the_license_first_then_is_listed_as_verified(
    capsys, home: Path, server, monkeypatch
) -> None:
    serve(server, monkeypatch, "ml-100k")
    code, out, err = run(capsys, home, "fetch", "ml-100k")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("License: GroupLens research licence") and "no redistribution" in lines[1]
    folder = home / "cache" / "datasets" / "ml-100k"
    assert lines[-1] == f"ml-100k is ready: {folder}"
    assert (folder / "u.data").exists()

    code, out, _ = run(capsys, home, "list")
    [row] = [line for line in out.splitlines() if line.startswith("ml-100k")]
    assert row.split()[-2:] == ["yes", "sha256"]

    code, out, _ = run(capsys, home, "fetch", "ml-100k")
    assert code == 0 and "already fetched" in out and len(server.requests) == 1


def test_fetch_force_downloads_again(capsys, home: Path, server, monkeypatch) -> None:
    serve(server, monkeypatch, "imdb_sample")
    assert run(capsys, home, "fetch", "imdb_sample")[0] == 0
    assert run(capsys, home, "fetch", "imdb_sample", "--force")[0] == 0
    assert len(server.requests) == 2


def test_fetch_from_a_local_copy_with_url(capsys, home: Path, tmp_path: Path, monkeypatch) -> None:
    data = layout_archive("adult_sample")
    monkeypatch.setitem(CATALOG, "adult_sample", entry_for("adult_sample", data, CATALOG["adult_sample"].url))
    copy = tmp_path / "adult_sample.tgz"
    copy.write_bytes(data)
    code, out, err = run(capsys, home, "fetch", "adult_sample", "--url", copy.as_uri())
    assert code == 0, err
    assert (home / "cache" / "datasets" / "adult_sample" / "adult.csv").exists()


def test_fetch_unknown_name_is_a_usage_error_with_a_suggestion(capsys, home: Path) -> None:
    code, out, err = run(capsys, home, "fetch", "wikitext103")
    assert code == 2 and out == ""
    assert "unknown dataset 'wikitext103'" in err and "Did you mean 'wikitext-103'" in err


def test_fetch_corrupt_archive_fails_showing_both_hashes(capsys, home: Path, server, monkeypatch) -> None:
    good = serve(server, monkeypatch, "wikitext-2", data=b"not the archive at all")
    code, _, err = run(capsys, home, "fetch", "wikitext-2")
    assert code == 1
    assert "size mismatch" in err and f"expected {len(good)}" in err
    assert not (home / "cache" / "datasets" / "wikitext-2").exists()

    corrupt = bytearray(good)
    corrupt[-5] ^= 0xFF
    server.files["wikitext-2.tgz"] = bytes(corrupt)
    code, _, err = run(capsys, home, "fetch", "wikitext-2")
    assert code == 1 and "sha256 mismatch" in err and CATALOG["wikitext-2"].sha256 in err
    assert "The file was removed" in err


def test_fetch_offline_fails_with_a_way_forward(capsys, home: Path, monkeypatch) -> None:
    data = layout_archive("imdb")
    monkeypatch.setitem(CATALOG, "imdb", entry_for("imdb", data, closed_port_url("imdb.tgz")))
    code, _, err = run(capsys, home, "fetch", "imdb")
    assert code == 1
    assert "no network" in err and "--data PATH" in err


def test_interrupted_fetch_resumes_on_the_next_run(capsys, home: Path, server, monkeypatch) -> None:
    good = serve(server, monkeypatch, "wikitext-103")
    server.cut_once["wikitext-103.tgz"] = len(good) // 2
    code, _, err = run(capsys, home, "fetch", "wikitext-103")
    assert code == 1 and "run `cardlab data fetch wikitext-103` again to resume" in err

    code, out, _ = run(capsys, home, "list")
    [row] = [line for line in out.splitlines() if line.startswith("wikitext-103")]
    assert row.split()[-3:] == ["partial", f"{100 * (len(good) // 2) // len(good)}%", "-"]

    assert run(capsys, home, "fetch", "wikitext-103")[0] == 0
    assert server.requests[-1][1] == f"bytes={len(good) // 2}-"


def test_verify_reports_each_dataset_and_fails_on_damage(capsys, home: Path, server, monkeypatch) -> None:
    serve(server, monkeypatch, "adult_sample")
    assert run(capsys, home, "fetch", "adult_sample")[0] == 0

    code, out, _ = run(capsys, home, "verify")
    assert code == 0
    assert "adult_sample: verified: size + sha256" in out and "imdb: not fetched" in out

    (home / "cache" / "datasets" / "adult_sample" / "adult.csv").unlink()
    code, out, err = run(capsys, home, "verify", "adult_sample")
    assert code == 1 and "missing adult.csv" in out and "--force" in err


def test_verify_a_dataset_that_is_not_fetched_fails(capsys, home: Path) -> None:
    code, out, err = run(capsys, home, "verify", "ml-100k")
    assert code == 1 and "ml-100k: not fetched" in out and "cardlab data fetch ml-100k" in err


def test_path_prints_the_folder_only_for_a_fetched_dataset(capsys, home: Path, server, monkeypatch) -> None:
    code, out, err = run(capsys, home, "path", "imdb_sample")
    assert code == 1 and out == "" and "cardlab data fetch imdb_sample" in err

    serve(server, monkeypatch, "imdb_sample")
    run(capsys, home, "fetch", "imdb_sample")
    code, out, err = run(capsys, home, "path", "imdb_sample")
    assert (code, out, err) == (0, f"{home / 'cache' / 'datasets' / 'imdb_sample'}\n", "")

    assert run(capsys, home, "path", "imbd_sample")[0] == 2


def test_data_without_a_subcommand_prints_help(capsys, home: Path) -> None:
    code, out, _ = run(capsys, home)
    assert code == 2 and "fetch" in out and "verify" in out
