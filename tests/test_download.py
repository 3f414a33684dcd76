"""Downloads end to end against a real HTTP server on 127.0.0.1 serving a stand-in Zenodo record."""

from __future__ import annotations

import hashlib
import socket

import pytest
from helpers_download import RecordServer

from bioal import download
from bioal.download import ChecksumError, DownloadError

RECORD = download.DCASE2024_RECORD


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """H1's synthetic "tiny" set, packaged as the stand-in Zenodo record, served on 127.0.0.1."""
    from bioal.synth.audio import generate_development_set, make_zenodo_record

    base = tmp_path_factory.mktemp("standin")
    source = generate_development_set(base / "source", size="tiny", seed=0, progress=False)
    with RecordServer() as srv:
        record = make_zenodo_record(source, base / "record", base_url=f"{srv.base}/api")
        srv.serve_record(record, base / "record")
        assert len(srv.files["Development_set.zip"]) > 100_000
        yield srv, source


@pytest.fixture()
def server(standin):
    srv, _ = standin
    srv.reset()
    return srv


def test_zenodo_listing(server):
    files = download.zenodo_files(RECORD, api_base=f"{server.base}/api")
    assert [f.key for f in files] == list(server.files)
    f = files[0]
    assert f.size == len(server.files[f.key]) and f.md5 == hashlib.md5(server.files[f.key]).hexdigest()
    assert f.url == f"{server.base}/api/records/{RECORD}/files/{f.key}/content"


def test_full_download_of_the_record(server, tmp_path):
    paths = download.download_zenodo_record(RECORD, tmp_path, api_base=f"{server.base}/api", progress=False)
    assert [p.name for p in paths] == list(server.files)
    for p in paths:
        assert p.read_bytes() == server.files[p.name]
    assert not list(tmp_path.glob("*.part"))
    # a complete file with the right md5 is not downloaded again
    n = len(server.requests)
    download.download_zenodo_record(RECORD, tmp_path, api_base=f"{server.base}/api", progress=False)
    assert [r[0] for r in server.requests[n:]] == [f"/api/records/{RECORD}"]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    name = "Development_set.zip"
    server.drop_first.add(name)
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    dest = download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    assert download.md5sum(dest) == remote.md5
    gets = [r for r in server.requests if r[0].endswith("/content")]
    assert gets[0][1] is None and gets[0][2] == 200
    # resumed from what reached the disk (whole blocks of the first, dropped response)
    resumed_at = int(gets[1][1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= remote.size // 2 and gets[1][2] == 206 and len(gets) == 2


def test_interrupted_download_resumes_in_a_second_call(server, tmp_path):
    name = "Development_set.zip"
    server.drop_first.add(name)
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    with pytest.raises(DownloadError, match="connection lost"):
        download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False,
                               retries=0)
    part = tmp_path / (name + ".part")
    part_size = part.stat().st_size
    assert 0 < part_size < remote.size and not (tmp_path / name).exists()
    download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    assert download.md5sum(tmp_path / name) == remote.md5 and not part.exists()
    assert server.requests[-1][1:] == (f"bytes={part_size}-", 206)


def test_server_ignoring_range_restarts(server, tmp_path):
    name = "DCASE2024_task5_training_set_classes.csv"
    data = server.files[name]
    part = tmp_path / (name + ".part")
    part.write_bytes(b"garbage!")  # a stale partial file that a 200 answer must replace
    server.ignore_range = True
    (url,) = [f.url for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    download.download_file(url, tmp_path / name, md5=hashlib.md5(data).hexdigest(), size=len(data), progress=False)
    assert (tmp_path / name).read_bytes() == data
    assert server.requests[-1][1:] == ("bytes=8-", 200)


def test_corrupted_download_refused(server, tmp_path):
    name = "Development_set.zip"
    server.corrupt.add(name)
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    with pytest.raises(ChecksumError) as err:
        download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    msg = str(err.value)
    assert remote.url in msg and remote.md5 in msg and "expected" in msg
    corrupt = tmp_path / (name + ".corrupt")
    assert corrupt.is_file() and download.md5sum(corrupt) in msg
    assert not (tmp_path / name).exists() and not (tmp_path / (name + ".part")).exists()


def test_html_page_is_refused_and_not_resumed_onto(server, tmp_path):
    name = "Development_set.zip"
    server.html_first.add(name)
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    with pytest.raises(DownloadError, match=r"HTTP 200 sent 49 bytes of text/html instead of the file"):
        download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    assert not (tmp_path / (name + ".part")).exists()
    download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    assert download.md5sum(tmp_path / name) == remote.md5
    assert server.requests[-1][1:] == (None, 200)  # afresh, not a Range onto the page


def test_206_from_another_offset_restarts_from_zero(server, tmp_path, caplog):
    name = "Development_set.zip"
    data = server.files[name]
    part = tmp_path / (name + ".part")
    part.write_bytes(data[:1000])
    server.bad_range.add(name)
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size, progress=False)
    assert (tmp_path / name).read_bytes() == data
    assert [r[1:] for r in server.requests[-2:]] == [("bytes=1000-", 206), (None, 200)]
    assert "came with Content-Range 'bytes 0-" in caplog.text


def test_416_for_a_part_longer_than_the_file_restarts_from_zero(server, tmp_path):
    name = "DCASE2024_task5_training_set_classes.csv"
    data = server.files[name]
    (tmp_path / (name + ".part")).write_bytes(data + b"stale tail")  # size unknown: only the server can tell
    (url,) = [f.url for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    download.download_file(url, tmp_path / name, md5=hashlib.md5(data).hexdigest(), progress=False)
    assert (tmp_path / name).read_bytes() == data
    assert [r[1:] for r in server.requests[-2:]] == [(f"bytes={len(data) + 10}-", 416), (None, 200)]


def test_finished_transfer_of_the_wrong_size_is_deleted(server, tmp_path):
    name = "DCASE2024_task5_training_set_classes.csv"
    (remote,) = [f for f in download.zenodo_files(RECORD, f"{server.base}/api") if f.key == name]
    with pytest.raises(DownloadError, match=rf"expected {remote.size + 5} \(the last response: HTTP 200, "
                       rf"{remote.size} bytes of .*\); the file was deleted"):
        download.download_file(remote.url, tmp_path / name, md5=remote.md5, size=remote.size + 5, progress=False)
    assert not (tmp_path / (name + ".part")).exists()


def test_unreachable_host_explains_manual_placement(tmp_path):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/files/Development_set.zip"
    dest = tmp_path / "downloads" / "Development_set.zip"
    with pytest.raises(DownloadError) as err:
        download.download_file(url, dest, md5="0123456789abcdef0123456789abcdef", progress=False, timeout=5)
    msg = str(err.value)
    assert url in msg and str(dest) in msg and "0123456789abcdef0123456789abcdef" in msg
    assert "place it by hand" in msg
    with pytest.raises(DownloadError, match=f"Place .* in {tmp_path}"):
        download.download_zenodo_record(RECORD, tmp_path, names=["a.zip"], api_base=f"http://127.0.0.1:{port}/api",
                                        progress=False)


def test_hand_placed_files_are_used_offline(tmp_path, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "a.zip").write_bytes(b"x")
    with caplog.at_level("WARNING"):
        paths = download.download_zenodo_record(RECORD, tmp_path, names=["a.zip"],
                                                api_base=f"http://127.0.0.1:{port}/api", progress=False)
    assert paths == [tmp_path / "a.zip"] and "without an md5 check" in caplog.text


def test_ensure_prepared_downloads_unpacks_and_prepares(server, tmp_path):
    from bioal import data, dcase

    config = data.DataConfig(data_source="dcase2024", data_root=str(tmp_path / "d"))
    prepared = data.ensure_prepared(config, progress=False, api_base=f"{server.base}/api")
    assert prepared == tmp_path / "d" / "prepared" and dcase.is_prepared(prepared)
    raw = tmp_path / "d" / "raw"
    assert (raw / "downloads" / "Development_set.zip").is_file()
    # names normalised on unpacking, the duplicate PB recording and __MACOSX not extracted
    hb = sorted(p.name for p in (raw / "Development_Set/Validation_Set/HB").glob("*.wav"))
    assert hb and all(" " not in n and "-" not in n for n in hb)
    assert not list((raw / "Development_Set/Validation_Set/PB").glob("BUK5_20180921_015906a.*")) and not (raw / "__MACOSX").exists()
    _, classes = data.read_split_labels(prepared, "SL", "train")
    assert len(classes) == 45
    n = len(server.requests)
    assert data.ensure_prepared(config, progress=False, api_base=f"{server.base}/api") == prepared
    assert len(server.requests) == n  # done: nothing fetched again

