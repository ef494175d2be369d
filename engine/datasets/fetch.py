"""Download, check and unpack the catalog's datasets into a cache; find them again for `--data`.

The cache is one folder (`Home.datasets_dir`). A fetch goes through states that never look complete
before they are:

    <cache>/<name>.part           the archive while it downloads (resumed with an HTTP Range request)
    <cache>/.<name>.extract-XXXX/ the archive unpacked, checked against the layout, marker written last
    <cache>/<folder>/.verified    the finished dataset, put in place by one atomic rename

Stdlib only (urllib, tarfile, zipfile): importing this module pulls in neither torch nor pandas.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from engine.datasets.archive import extract_safely
from engine.datasets.catalog import (
    CATALOG,
    HEAD_BYTES,
    Dataset,
    DatasetError,
    UnknownDataset,
    describe_check,
    format_size,
    get,
    suggest,
)

try:  # advisory lock so two fetches of one dataset do not write the same .part
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

VERIFIED_MARKER = ".verified"
CHUNK_BYTES = 1 << 16
USER_AGENT = "cardlab-datasets/1 (+python-urllib)"

ProgressCallback = Callable[[int, int], None]  # (bytes so far, bytes in all)
StageCallback = Callable[[str], None]  # "download", "check", "extract"


class HasDatasetsDir(Protocol):
    @property
    def datasets_dir(self) -> Path: ...


HomeLike = HasDatasetsDir | str | os.PathLike[str]


class NotFetched(DatasetError):
    """A known dataset that is not (completely) in the cache yet."""


class NoNetwork(DatasetError):
    """The server could not be reached at all."""


class DownloadError(DatasetError):
    """The server answered with an error, or the transfer broke off (the .part file is kept)."""


class ChecksumMismatch(DatasetError):
    """The archive is not the published one; the file has been removed."""

    def __init__(self, message: str, check: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.check, self.expected, self.actual = check, expected, actual


class LayoutError(DatasetError):
    """The archive unpacked fine but lacks files the readers need."""


# ----------------------------------------------------------------------------------------------- paths


def datasets_dir(home: HomeLike) -> Path:
    """The cache folder: `home.datasets_dir` for a `cards.paths.Home`, else the path itself."""
    folder = getattr(home, "datasets_dir", None)
    return Path(folder if folder is not None else home).expanduser()  # type: ignore[arg-type]


def dataset_dir(name: str, home: HomeLike) -> Path:
    """Where `name` lives once fetched (whether or not it is there)."""
    return datasets_dir(home) / get(name).folder


def part_path(name: str, home: HomeLike) -> Path:
    return datasets_dir(home) / f"{get(name).name}.part"


def is_fetched(name: str, home: HomeLike) -> bool:
    return (dataset_dir(name, home) / VERIFIED_MARKER).is_file()


def dataset_path(name: str, home: HomeLike) -> Path:
    """The folder of a fetched and verified dataset; `NotFetched` says how to get it otherwise."""
    if not is_fetched(name, home):
        raise NotFetched(not_fetched_message(get(name)))
    return dataset_dir(name, home)


def not_fetched_message(entry: Dataset) -> str:
    return (
        f"dataset {entry.name!r} is not fetched yet: run `cardlab data fetch {entry.name}` "
        f"({format_size(entry.size)}, {entry.license_name}), or pass --data PATH with a local copy."
    )


def resolve_data_arg(value: str, home: HomeLike) -> Path:
    """A lab's `--data` value: a dataset NAME from the cache, or a PATH to a file or folder."""
    looks_like_path = "/" in value or os.sep in value or value.startswith((".", "~"))
    if not looks_like_path and value in CATALOG:
        return dataset_path(value, home)
    path = Path(value).expanduser()
    if path.exists():
        return path
    if looks_like_path:
        raise DatasetError(f"--data {value}: no such file or folder")
    raise UnknownDataset(value, suggest(value), also=" and no file or folder of that name")


# -------------------------------------------------------------------------------------------- download


def download(
    entry: Dataset,
    part: Path,
    url: str | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> None:
    """Stream `url` (default: the entry's) into `part`, resuming what is already there."""
    url = url or entry.url
    offset = part.stat().st_size if part.exists() else 0
    if offset > entry.size:  # not a prefix of the archive we want
        part.unlink()
        offset = 0
    if offset == entry.size:
        _report(progress, offset, entry.size)
        return
    response = _open(entry, url, offset, timeout)
    if response is None:  # 416: the server has no bytes past our offset; start over once
        part.unlink(missing_ok=True)
        offset = 0
        response = _open(entry, url, 0, timeout)
        assert response is not None
    with response:
        offset = _resume_offset(response, offset)
        total = _announced_total(response, offset)
        if total is not None and total != entry.size:
            part.unlink(missing_ok=True)
            raise _size_mismatch(entry, total, where=f"the server at {url} announces")
        _stream(entry, response, part, offset, progress)


def _open(entry: Dataset, url: str, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            return None
        raise DownloadError(
            f"{entry.name}: the server answered HTTP {err.code} {err.reason} for {url}"
        ) from err
    except urllib.error.URLError as err:
        if urlparse(url).scheme == "file":
            raise DownloadError(f"{entry.name}: cannot read {url}: {err.reason}") from err
        raise NoNetwork(_offline_message(entry, url, err.reason)) from err
    except (TimeoutError, ConnectionError) as err:
        raise NoNetwork(_offline_message(entry, url, err)) from err


def _offline_message(entry: Dataset, url: str, reason: object) -> str:
    host = urlparse(url).netloc or url
    return (
        f"no network: could not reach {host} ({reason}). "
        f"Use --data PATH with a local copy of {entry.name}, or copy {entry.archive_name} onto this machine "
        f"and run `cardlab data fetch {entry.name} --url file:///path/to/{entry.archive_name}`."
    )


def _resume_offset(response: http.client.HTTPResponse, offset: int) -> int:
    """Keep the offset only when the server honoured the Range request (206 from that byte)."""
    if not offset:
        return 0
    if getattr(response, "status", None) != 206:
        return 0  # a full body (200, or file:// which ignores Range): rewrite from the start
    content_range = response.headers.get("Content-Range", "")
    start = content_range.removeprefix("bytes ").split("-", 1)[0]
    return offset if start.strip() == str(offset) else 0


def _announced_total(response: http.client.HTTPResponse, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _stream(
    entry: Dataset, response: BinaryIO, part: Path, offset: int, progress: ProgressCallback | None
) -> None:
    done = offset
    _report(progress, done, entry.size)
    try:
        with open(part, "ab" if offset else "wb") as out:
            while chunk := response.read(CHUNK_BYTES):
                done += len(chunk)
                if done > entry.size:
                    out.close()
                    part.unlink()
                    raise _size_mismatch(entry, done, where="the server sent at least")
                out.write(chunk)
                _report(progress, done, entry.size)
    except (http.client.HTTPException, OSError) as err:
        raise _interrupted(entry, done, err) from err
    if done < entry.size:
        raise _interrupted(entry, done, "connection closed early")


def _interrupted(entry: Dataset, done: int, why: object) -> DownloadError:
    return DownloadError(
        f"{entry.name}: download interrupted at {format_size(done)} of {format_size(entry.size)} ({why}); "
        f"run `cardlab data fetch {entry.name}` again to resume."
    )


def _size_mismatch(entry: Dataset, actual: int, where: str) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"{entry.name}: size mismatch: expected {entry.size} bytes, {where} {actual} bytes. "
        "The partial file was removed; the published archive may have changed.",
        check="size",
        expected=str(entry.size),
        actual=str(actual),
    )


def _report(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


# -------------------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class ArchiveDigest:
    size: int
    sha256: str
    head_md5: str  # md5 of the first MiB, comparable with fastai's checks.txt


def digest_file(path: Path) -> ArchiveDigest:
    sha256, head_md5, head_left, size = hashlib.sha256(), hashlib.md5(), HEAD_BYTES, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES * 16):
            sha256.update(chunk)
            if head_left > 0:
                head_md5.update(chunk[:head_left])
                head_left -= len(chunk[:head_left])
            size += len(chunk)
    return ArchiveDigest(size, sha256.hexdigest(), head_md5.hexdigest())


def check_archive(entry: Dataset, archive: Path) -> ArchiveDigest:
    """Compare the archive with the published facts; remove it and raise on any difference."""
    digest = digest_file(archive)
    expectations = [("size", str(entry.size), str(digest.size))]
    if entry.sha256:
        expectations.append(("sha256", entry.sha256, digest.sha256))
    if entry.head_md5:
        expectations.append(("md5 of the first MiB", entry.head_md5, digest.head_md5))
    for check, expected, actual in expectations:
        if expected != actual:
            archive.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"{entry.name}: {check} mismatch for {entry.archive_name}: expected {expected}, got {actual}. "
                f"The file was removed; run `cardlab data fetch {entry.name}` again, and if it fails the same "
                "way the published archive has changed.",
                check=check,
                expected=expected,
                actual=actual,
            )
    return digest


# ------------------------------------------------------------------------------------------------ fetch


def fetch(
    dataset: str | Dataset,
    home: HomeLike,
    *,
    url: str | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    on_stage: StageCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make `dataset` ready in the cache and return its folder.

    Already fetched and verified: returned as is (unless `force`). Otherwise download (resuming a
    `.part`), check size and hashes, unpack into a temporary folder, check the layout, write the
    `.verified` marker and move the folder into place with one rename. `url` overrides where the
    archive comes from (a mirror, a `file://` copy, a test server); the checks stay the catalog's.
    """
    entry = get(dataset) if isinstance(dataset, str) else dataset
    root = datasets_dir(home)
    target = root / entry.folder
    if not force and (target / VERIFIED_MARKER).is_file():
        return target
    if not force and target.exists():
        raise DatasetError(
            f"{target} exists but is not a verified download; "
            f"run `cardlab data fetch {entry.name} --force` to replace it"
        )
    root.mkdir(parents=True, exist_ok=True)
    part = root / f"{entry.name}.part"
    with _exclusive(root / f".{entry.name}.lock", entry):
        _stage(on_stage, "download")
        download(entry, part, url=url, progress=progress, timeout=timeout)
        _stage(on_stage, "check")
        digest = check_archive(entry, part)
        _stage(on_stage, "extract")
        _unpack_into_place(entry, part, target, digest, url or entry.url)
        part.unlink()
    return target


def _stage(on_stage: StageCallback | None, stage: str) -> None:
    if on_stage is not None:
        on_stage(stage)


@contextlib.contextmanager
def _exclusive(lock_path: Path, entry: Dataset) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DatasetError(
                    f"another cardlab is fetching {entry.name} right now; wait for it"
                ) from None
        yield


def _unpack_into_place(entry: Dataset, archive: Path, target: Path, digest: ArchiveDigest, url: str) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}.extract-", dir=target.parent))
    try:
        try:
            extract_safely(archive, scratch)
        except DatasetError:
            archive.unlink(missing_ok=True)  # a bad archive is never worth resuming
            raise
        folder = scratch / entry.folder if (scratch / entry.folder).is_dir() else scratch
        missing = [marker for marker in entry.markers if not (folder / marker).exists()]
        if missing:
            archive.unlink(missing_ok=True)
            raise LayoutError(
                f"{entry.name}: the archive unpacked without {', '.join(missing)} "
                f"(expected under {entry.folder}/); it is not the layout the readers need"
            )
        _write_marker(entry, folder, digest, url)
        _replace_folder(folder, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_marker(entry: Dataset, folder: Path, digest: ArchiveDigest, url: str) -> None:
    files, total = _tree_totals(folder)
    record = {
        "name": entry.name,
        "url": url,
        "check": entry.check_kind,
        "archive_bytes": digest.size,
        "archive_sha256": digest.sha256,
        "archive_head_md5": digest.head_md5,
        "files": files,
        "bytes": total,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    staging = folder / (VERIFIED_MARKER + ".tmp")
    staging.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(staging, folder / VERIFIED_MARKER)


def _tree_totals(folder: Path) -> tuple[int, int]:
    """Number of files and their bytes under `folder`, the marker itself left out."""
    files = total = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for filename in filenames:
            if Path(dirpath) == folder and filename.startswith(VERIFIED_MARKER):
                continue
            files += 1
            total += os.stat(os.path.join(dirpath, filename)).st_size
    return files, total


def _replace_folder(ready: Path, target: Path) -> None:
    """Put `ready` at `target` by rename; an old folder is moved aside first and then deleted."""
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, retired / target.name)
    os.replace(ready, target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verification:
    name: str
    path: Path
    state: str  # "verified", "not fetched", "partial download" or "broken"
    check: str | None = None  # the archive check it passed at fetch time
    archive_sha256: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "verified"

    @property
    def summary(self) -> str:
        if self.ok:
            return f"verified: {describe_check(self.check or 'size-only')}"
        if self.problems:
            return f"{self.state}: {'; '.join(self.problems)}"
        return self.state


def verify(name: str, home: HomeLike, *, deep: bool = True) -> Verification:
    """Check a fetched dataset: its marker, its layout and (deep) that no file went missing or changed size."""
    entry = get(name)
    folder = dataset_dir(name, home)
    if not folder.exists():
        state = "partial download" if part_path(name, home).exists() else "not fetched"
        return Verification(entry.name, folder, state)
    try:
        record = json.loads((folder / VERIFIED_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Verification(
            entry.name,
            folder,
            "broken",
            problems=("no readable .verified marker: not made by `cardlab data fetch`",),
        )
    problems = _record_problems(entry, record)
    problems += [f"missing {marker}" for marker in entry.markers if not (folder / marker).exists()]
    if deep:
        files, total = _tree_totals(folder)
        if (files, total) != (record.get("files"), record.get("bytes")):
            problems.append(
                f"{files} files / {total} bytes on disk, {record.get('files')} / {record.get('bytes')} when fetched"
            )
    return Verification(
        entry.name,
        folder,
        "broken" if problems else "verified",
        check=record.get("check"),
        archive_sha256=record.get("archive_sha256"),
        problems=tuple(problems),
    )


def _record_problems(entry: Dataset, record: dict[str, object]) -> list[str]:
    """Does the marker describe the archive the catalog expects today?"""
    expected = {
        "archive_bytes": entry.size,
        "archive_sha256": entry.sha256,
        "archive_head_md5": entry.head_md5,
    }
    stale = [key for key, value in expected.items() if value is not None and record.get(key) != value]
    if stale:
        return [
            f"fetched from another archive than the catalog lists ({', '.join(stale)} differ); fetch with --force"
        ]
    return []
