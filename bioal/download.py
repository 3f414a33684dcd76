"""Resumable HTTP downloads with size/md5 checks, and Zenodo record listings.

``download_file`` streams into ``<dest>.part``, resumes an interrupted transfer with an
HTTP ``Range`` request (restarting from zero when the server ignores it and answers 200, or
answers 206 from another offset than the part's end), verifies size and md5, and renames the
finished file into place atomically. An HTML page (or other text, for a binary file) answered
instead of the file is refused and not written; a finished transfer of the wrong size is
deleted, so the next run starts afresh rather than resuming onto it. A file that is
already complete and has the right md5 is not fetched again. When the host cannot be
reached, :class:`DownloadError` says how to place the file by hand.

The DCASE 2024 Task 5 development set is Zenodo record :data:`DCASE2024_RECORD`
(method §1.1); :func:`download_zenodo_record` fetches its four files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from tqdm.auto import tqdm

from bioal.dcase import CLASS_CSVS
from bioal.utils import write_json

__all__ = [
    "DCASE2024_RECORD",
    "DCASE2024_FILES",
    "DEVELOPMENT_SET_ZIP",
    "ZENODO_API",
    "ChecksumError",
    "DownloadError",
    "RemoteFile",
    "md5sum",
    "write_zenodo_record",
    "download_file",
    "zenodo_files",
    "download_zenodo_record",
]

ZENODO_API = "https://zenodo.org/api"
DCASE2024_RECORD = 10829604
DEVELOPMENT_SET_ZIP = "Development_set.zip"
DCASE2024_FILES = (DEVELOPMENT_SET_ZIP, "Development_set_annotations.zip", *CLASS_CSVS)

_CHUNK = 1 << 20

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """A download could not be completed (host unreachable, HTTP error, size mismatch)."""


class ChecksumError(DownloadError):
    """The downloaded file's md5 differs from the expected one."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a Zenodo record: name, size in bytes, md5 hex digest, download URL."""

    key: str
    size: int
    md5: str
    url: str


def md5sum(path: str | os.PathLike, chunk: int = _CHUNK) -> str:
    """Hex md5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _manual_message(url: str, dest: Path, md5: str | None, reason: str) -> str:
    lines = [
        f"could not download {url}: {reason}",
        "To continue offline, fetch the file on a machine with network access and place it by hand:",
        f"  URL:         {url}",
        f"  target path: {dest}",
        f"  md5:         {md5 or '(not known; any complete copy is accepted)'}",
        "Then run the same step again; a complete file with the right md5 is used as it is.",
    ]
    return "\n".join(lines)


def _verify(path: Path, url: str, dest: Path, md5: str | None, size: int | None, received: str) -> None:
    if size is not None and path.stat().st_size != size:
        found = path.stat().st_size
        path.unlink()  # a finished transfer of the wrong size is no partial file to resume onto
        raise DownloadError(
            f"{url}: downloaded {found} bytes into {path}, expected {size} (the last response: {received}); "
            f"the file was deleted, so the next run downloads it afresh"
        )
    if md5 is not None:
        actual = md5sum(path)
        if actual.lower() != md5.lower():
            corrupt = dest.with_name(dest.name + ".corrupt")
            os.replace(path, corrupt)
            raise ChecksumError(
                f"{url}: md5 mismatch for {dest}: expected {md5.lower()}, got {actual}; "
                f"the file was kept aside as {corrupt}"
            )


def download_file(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    timeout: float = 60,
    retries: int = 3,
) -> Path:
    """Download ``url`` to ``dest``, resumably; return ``dest``.

    Data goes to ``<dest>.part``; a previous partial file is continued with an HTTP Range
    request (a server answering 200 instead of 206, or 206 from another offset than the part's
    end, restarts from zero); a connection dropped mid-transfer is resumed up to ``retries``
    times before giving up. A response that is an HTML page, or text for a file whose name
    is not a text format's, raises :class:`DownloadError` saying what arrived, and nothing of it
    is written. On completion the size and md5 are checked and the file is renamed into
    place. A wrong size deletes the part file and raises :class:`DownloadError`; an md5
    mismatch moves the file to ``<dest>.corrupt`` and raises :class:`ChecksumError`; an
    unreachable host raises :class:`DownloadError` with manual-placement instructions.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    note = ""
    if dest.is_file():
        actual = md5sum(dest) if md5 is not None else None
        found = dest.stat().st_size
        if (md5 is None or actual.lower() == md5.lower()) and (size is None or found == size):
            return dest
        # an existing but wrong file: move it aside rather than trusting it, and say so
        corrupt = dest.with_name(dest.name + ".corrupt")
        os.replace(dest, corrupt)
        note = (
            f"The file found at {dest} ({found} bytes, md5 {actual or 'not checked'}) does not match the expected "
            f"{size if size is not None else '?'} bytes / md5 {md5 or '?'} (truncated, or another version); it was "
            f"renamed to {corrupt}. Place a complete copy at {dest} and run again."
        )
        log.warning("%s Downloading it again.", note)
    part = dest.with_name(dest.name + ".part")
    received = ""
    for attempt in range(retries + 1):
        try:
            received = _fetch(url, part, dest, md5, size, progress, timeout)
            break
        except DownloadError as err:
            if note:
                raise DownloadError(f"{err}\n{note}") from err
            raise
        except _Interrupted as err:
            if attempt == retries:
                raise DownloadError(
                    _manual_message(url, dest, md5, f"{err}; run again to resume from {part}") + (f"\n{note}" if note else "")
                ) from err.__cause__
    _verify(part, url, dest, md5, size, received)
    os.replace(part, dest)
    return dest


class _Interrupted(Exception):
    """The connection dropped mid-transfer (the part file keeps what arrived)."""


#: Names of files that are text, so a ``text/*`` answer may be the file itself (an HTML page never is).
TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".json", ".md", ".yaml", ".yml")
_PAGE_TYPES = ("text/html", "application/xhtml+xml")


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _range_problem(response: requests.Response, have: int) -> str | None:
    """Why the answer to ``Range: bytes=<have>-`` does not continue the part file, or None."""
    if not have or response.status_code not in (206, 416):
        return None
    header = response.headers.get("Content-Range", "")
    if response.status_code == 416:  # "bytes */<total>": the part is complete only if total == have
        total = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", header)
        if total and int(total.group(1)) != have:
            return f"HTTP 416 says the file holds {total.group(1)} bytes, the part file {have}"
        return None
    start = re.match(r"\s*bytes\s+(\d+)-", header)
    if start is None or int(start.group(1)) != have:
        return f"HTTP 206 for bytes from {have} came with Content-Range {header or '(none)'!r}"
    return None


def _fetch(url: str, part: Path, dest: Path, md5: str | None, size: int | None, progress: bool,
           timeout: float) -> str:
    """Fetch into ``part`` (resuming it); return what the last response was, for messages."""
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is not None and have == size:
        return f"none (the part file {part} already held {have} bytes)"
    for restart in (False, True):
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = requests.get(url, headers=headers, stream=True, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise DownloadError(_manual_message(url, dest, md5, f"host unreachable ({type(err).__name__})")) from err
        with response:
            problem = _range_problem(response, have)
            if problem:
                if restart:
                    raise DownloadError(_manual_message(url, dest, md5, f"the server's ranges are inconsistent: {problem}"))
                log.warning("%s: %s; deleting %s and downloading from the start", url, problem, part)
                part.unlink()
                have = 0
                continue
            if response.status_code == 416 and have:  # range starts at the end: the part is complete
                return f"HTTP 416 (the part file {part} already held {have} bytes)"
            if response.status_code >= 400:
                raise DownloadError(_manual_message(url, dest, md5, f"HTTP {response.status_code}"))
            kind = _content_type(response)
            if kind in _PAGE_TYPES or (kind.startswith("text/") and dest.suffix.lower() not in TEXT_SUFFIXES):
                got = _drain(response)
                raise DownloadError(_manual_message(
                    url, dest, md5,
                    f"HTTP {response.status_code} sent {got} of {kind} instead of the file (an error or rate-limit "
                    f"page?); nothing of it was written{f', {part} is kept to resume' if have else ''}",
                ))
            if have and response.status_code != 206:
                have = 0  # the server ignored the Range header: start over
            total = size
            if total is None and response.headers.get("Content-Length"):
                total = have + int(response.headers["Content-Length"])
            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=dest.name, disable=not progress)
            got = 0
            try:
                with open(part, "ab" if have else "wb") as handle, bar:
                    for block in response.iter_content(chunk_size=_CHUNK):
                        handle.write(block)
                        got += len(block)
                        bar.update(len(block))
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
                raise _Interrupted(f"connection lost after {part.stat().st_size} bytes ({type(err).__name__})") from err
            return f"HTTP {response.status_code}, {got} bytes of {kind or 'unstated type'}"
    raise AssertionError("unreachable")


def _drain(response: requests.Response, limit: int = 1 << 20) -> str:
    """How many bytes the body holds (read up to ``limit``), as words."""
    got = 0
    try:
        for block in response.iter_content(chunk_size=1 << 16):
            got += len(block)
            if got > limit:
                return f"over {limit} bytes"
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
        return f"{got} bytes (then the connection dropped)"
    return f"{got} bytes"


def zenodo_files(record_id: int, api_base: str = ZENODO_API, timeout: float = 60) -> list[RemoteFile]:
    """The files of a Zenodo record, from its JSON (``files[].key/size/checksum/links.self``)."""
    url = f"{api_base.rstrip('/')}/records/{record_id}"
    try:
        response = requests.get(url, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as err:
        raise DownloadError(
            f"could not reach {url} ({type(err).__name__}) to list Zenodo record {record_id}. "
            f"Offline, download the record's files by hand from https://zenodo.org/records/{record_id} "
            "and place them in the download folder named by the step that failed."
        ) from err
    if response.status_code != 200:
        raise DownloadError(f"{url}: HTTP {response.status_code} while listing Zenodo record {record_id}")
    try:
        record = response.json()
    except ValueError as err:
        raise DownloadError(f"{url}: the record listing is not JSON") from err
    files = []
    for i, item in enumerate(record.get("files", [])):
        try:
            checksum = item["checksum"]
            algo, _, digest = checksum.partition(":")
            if algo != "md5" or not digest:
                raise ValueError(f"unsupported checksum {checksum!r}")
            files.append(RemoteFile(str(item["key"]), int(item["size"]), digest, str(item["links"]["self"])))
        except (KeyError, TypeError, ValueError) as err:
            raise DownloadError(f"{url}: files[{i}] is malformed ({err!r})") from err
    if not files:
        raise DownloadError(f"{url}: Zenodo record {record_id} lists no files")
    return files


def write_zenodo_record(
    folder: str | os.PathLike, record_id: int, names: Sequence[str], base_url: str, title: str
) -> dict[str, Any]:
    """Describe ``folder``'s files ``names`` as the JSON of a Zenodo record served under
    ``base_url`` (what :func:`zenodo_files` reads: ``files[].key/size/checksum/links.self``);
    written to ``folder/record.json`` and returned. Stand-in servers in tests and demos use it."""
    folder, base = Path(folder), base_url.rstrip("/")
    record = {
        "id": record_id,
        "metadata": {"title": title},
        "files": [
            {"key": name, "size": (folder / name).stat().st_size, "checksum": f"md5:{md5sum(folder / name)}",
             "links": {"self": f"{base}/records/{record_id}/files/{name}/content"}}
            for name in names
        ],
        "links": {"archive": f"{base}/records/{record_id}/files-archive"},
    }
    write_json(folder / "record.json", record)
    return record


def download_zenodo_record(
    record_id: int = DCASE2024_RECORD,
    dest_dir: str | os.PathLike = ".",
    names: Sequence[str] | None = None,
    api_base: str = ZENODO_API,
    progress: bool = True,
) -> list[Path]:
    """Download (resumably, md5-checked) the files ``names`` (default: all) of a record."""
    dest_dir = Path(dest_dir)
    try:
        files = zenodo_files(record_id, api_base)
    except DownloadError as err:
        if names is not None and all((dest_dir / n).is_file() for n in names):
            log.warning("%s\nusing the files already placed in %s without an md5 check", err, dest_dir)
            return [dest_dir / n for n in names]
        wanted = ", ".join(names) if names is not None else "all files of the record"
        raise DownloadError(
            f"{err}\nPlace {wanted} (from https://zenodo.org/records/{record_id}) in {dest_dir} "
            "and run again."
        ) from err
    by_name = {f.key: f for f in files}
    wanted = list(names) if names is not None else [f.key for f in files]
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise DownloadError(f"Zenodo record {record_id} has no file(s) {missing}; it lists {sorted(by_name)}")
    return [
        download_file(by_name[n].url, dest_dir / n, md5=by_name[n].md5, size=by_name[n].size, progress=progress)
        for n in wanted
    ]
