"""Test support for dataset fetching: small archives in each real layout and a local HTTP server.

The server binds 127.0.0.1 on a free port, honours `Range: bytes=N-`, and can be told to cut a
response short (to test resume), to ignore ranges, or to lie about a file's length.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from engine.datasets.catalog import CATALOG, HEAD_BYTES, Dataset

# Each catalog dataset in its real layout (paths inside the archive), a few bytes per file.
LAYOUTS: dict[str, dict[str, bytes]] = {
    "imdb": {
        "imdb/README": b"Large Movie Review Dataset v1.0\n",
        "imdb/imdb.vocab": b"the\nand\na\n",
        "imdb/train/pos/0_9.txt": b"A wonderful film, truly moving.",
        "imdb/train/neg/1_2.txt": b"Dull and far too long.",
        "imdb/test/pos/2_8.txt": b"Great acting <br /><br />and a great story.",
        "imdb/test/neg/3_1.txt": b"I want those two hours back.",
        "imdb/unsup/4_0.txt": b"Saw it on a Sunday.",
    },
    "imdb_sample": {
        "imdb_sample/texts.csv": b"label,text,is_valid\nnegative,Dull.,False\npositive,Lovely film.,True\n",
    },
    "wikitext-2": {
        "wikitext-2/train.csv": b'" = Valkyria Chronicles = \n The game began development in 2010 . "\n',
        "wikitext-2/test.csv": b'" = Robert Boulter = \n Robert Boulter is an English actor . "\n',
    },
    "wikitext-103": {
        "wikitext-103/train.txt": b" = Valkyria Chronicles III = \n\n Senjou no Valkyria 3 .\n",
        "wikitext-103/valid.txt": b" = Homarus gammarus = \n\n Homarus gammarus is a lobster .\n",
        "wikitext-103/test.txt": b" = Robert Boulter = \n\n Robert Boulter is an actor .\n",
    },
    "wt103-fwd": {
        "wt103-fwd/lstm_fwd.pth": b"not real weights",
        "wt103-fwd/itos_wt103.pkl": b"not a real vocab",
    },
    "adult_sample": {
        "adult_sample/adult.csv": b"age,workclass,education,salary\n49,Private,Assoc-acdm,>=50k\n44,?,Masters,<50k\n",
    },
    "movie_lens_sample": {
        "movie_lens_sample/ratings.csv": b"userId,movieId,rating,timestamp\n73,1097,4.0,1255504951\n",
    },
    "ml-100k": {
        "ml-100k/README": b"MovieLens 100K\n",
        "ml-100k/u.data": b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n",
        "ml-100k/u.item": b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
        "ml-100k/u.user": b"1|24|M|technician|85711\n",
    },
}


def tgz(
    files: dict[str, bytes],
    symlinks: dict[str, str] | None = None,
    hardlinks: dict[str, str] | None = None,
) -> bytes:
    """A gzipped tar with `files`, then `symlinks` and `hardlinks` (member name -> link target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for kind, links in ((tarfile.SYMTYPE, symlinks or {}), (tarfile.LNKTYPE, hardlinks or {})):
            for name, target in links.items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, target
                tar.addfile(info)
    return buffer.getvalue()


def zip_archive(files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files.items():
            zipped.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0x20  # S_IFLNK: how zip stores a symlink
            zipped.writestr(info, target)
    return buffer.getvalue()


def layout_archive(name: str) -> bytes:
    files = LAYOUTS[name]
    return zip_archive(files) if CATALOG[name].archive_name.endswith(".zip") else tgz(files)


def entry_for(name: str, data: bytes, url: str, check: str = "sha256") -> Dataset:
    """The catalog entry `name` re-pointed at `url`, with `data`'s facts recorded for `check`."""
    return dataclasses.replace(
        CATALOG[name],
        url=url,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest() if check == "sha256" else None,
        head_md5=hashlib.md5(data[:HEAD_BYTES]).hexdigest() if check == "head-md5" else None,
    )


class ArchiveServer:
    """What the handler serves and how it misbehaves; `requests` logs (path, Range header)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_once: dict[str, int] = {}  # path -> bytes sent before the next response breaks off
        self.ignore_range = False
        self.claimed_length: dict[str, int] = {}  # path -> Content-Length to announce instead
        self.requests: list[tuple[str, str | None]] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


def _handler_for(state: ArchiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            range_header = self.headers.get("Range")
            state.requests.append((path, range_header))
            data = state.files.get(path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            if range_header and not state.ignore_range:
                start = int(range_header.removeprefix("bytes=").split("-", 1)[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(state.claimed_length.get(path, len(body))))
            self.end_headers()
            cut = state.cut_once.pop(path, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serving() -> Iterator[ArchiveServer]:
    state = ArchiveServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url(path: str) -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused, as when offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"
