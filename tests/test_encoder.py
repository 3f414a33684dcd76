"""Cnn14Encoder: shapes, ceil-mode pooling, parameter count, PANNs checkpoint loading."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch
import torch.nn.functional as F

from bioal import encoder as enc
from bioal.utils import torch_generator

WIDTH = 0.0625  # channels 4, 8, 16, 32, 64, 128


def _panns_table(scale: int = 1) -> dict[str, tuple[int, ...]]:
    """method §3.2 written out independently of bioal: the 84 keys of Cnn14_DecisionLevelMax,
    conv-block channels divided by ``scale``."""
    table: dict[str, tuple[int, ...]] = {
        "spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
        "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
        "logmel_extractor.melW": (513, 64),
        "bn0.weight": (64,), "bn0.bias": (64,), "bn0.running_mean": (64,), "bn0.running_var": (64,),
        "bn0.num_batches_tracked": (),
    }
    chans = [1, 64, 128, 256, 512, 1024, 2048]
    chans = [1] + [c // scale for c in chans[1:]]
    for b in range(1, 7):
        cin, cout = chans[b - 1], chans[b]
        table[f"conv_block{b}.conv1.weight"] = (cout, cin, 3, 3)
        table[f"conv_block{b}.conv2.weight"] = (cout, cout, 3, 3)
        for bn in ("bn1", "bn2"):
            for p in ("weight", "bias", "running_mean", "running_var"):
                table[f"conv_block{b}.{bn}.{p}"] = (cout,)
            table[f"conv_block{b}.{bn}.num_batches_tracked"] = ()
    table.update({
        "fc1.weight": (chans[-1], chans[-1]), "fc1.bias": (chans[-1],),
        "fc_audioset.weight": (527, chans[-1]), "fc_audioset.bias": (527,),
    })
    return table


def _make_checkpoint(path, table, seed=0, drop=(), reshape=None):
    g = torch_generator(seed, "fake-panns")
    state = {}
    for key, shape in table.items():
        if key in drop:
            continue
        if reshape and key in reshape:
            shape = reshape[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1234, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.1
    torch.save({"model": state, "iteration": 100}, path)
    return state


def test_full_width_parameter_count_and_key_table_on_meta():
    with torch.device("meta"):
        model = enc.Cnn14Encoder(width=1.0)
    assert sum(p.numel() for p in model.parameters()) == 75_477_312
    per_block = [sum(p.numel() for p in b.parameters()) for b in model.blocks]
    assert per_block == [37_696, 221_696, 885_760, 3_540_992, 14_159_872, 56_631_296]
    table = _panns_table()
    assert len(table) == 84
    assert enc.panns_state_dict_shapes(1.0) == table
    assert list(enc.panns_state_dict_shapes(1.0)) == list(table)  # registration order
    conv = {k: v for k, v in table.items() if k.startswith("conv_block")}
    assert len(conv) == 72
    assert {k: tuple(v.shape) for k, v in model.encoder_state_dict().items()} == conv
    assert sum(torch.Size(s).numel() for s in table.values()) == 81_853_340


def test_shapes_time_lengths_and_nonnegative():
    model = enc.Cnn14Encoder(width=WIDTH, seed=0).eval()
    lengths = []
    hooks = [b.register_forward_hook(lambda m, i, o: lengths.append(tuple(o.shape[2:]))) for b in model.blocks]
    x = torch.randn(2, 1, 1001, 64, generator=torch_generator(0, "x"))
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    assert [t for t, _ in lengths] == [501, 251, 126, 63, 32, 32]
    assert [f for _, f in lengths] == [32, 16, 8, 4, 2, 2]
    assert out["embedding"].shape == (2, 32, model.embedding_dim) == (2, 32, 128)
    assert out["clip_embedding"].shape == (2, 128)
    assert (out["embedding"] >= 0).all()
    torch.testing.assert_close(out["clip_embedding"], out["embedding"].max(dim=1).values)
    assert enc.Cnn14Encoder.frames_out(1001) == 32
    # [B, T, F] input is accepted too
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, 0])["embedding"], out["embedding"])


def test_ceil_pooling_equals_torch_ceil_mode():
    x = torch.randn(2, 3, 7, 8, generator=torch_generator(0, "pool"))
    ours = enc._ceil_pool_time(x, (2, 2))
    ref = F.avg_pool2d(x, kernel_size=2, ceil_mode=True)
    torch.testing.assert_close(ours, ref)
    assert ours.shape == (2, 3, 4, 4)
    torch.testing.assert_close(ours[:, :, -1], x[:, :, -1].reshape(2, 3, 4, 2).mean(-1))


def test_seeded_init_reproducible_and_bn_init():
    a = enc.Cnn14Encoder(width=WIDTH, seed=3)
    b = enc.Cnn14Encoder(width=WIDTH, seed=3)
    c = enc.Cnn14Encoder(width=WIDTH, seed=4)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.conv_block2.conv1.weight, c.conv_block2.conv1.weight)
    w = a.conv_block3.conv2.weight
    bound = (6.0 / (w.shape[0] * 9 + w.shape[1] * 9)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert torch.equal(a.conv_block1.bn1.weight, torch.ones(4))
    assert torch.equal(a.conv_block1.bn1.bias, torch.zeros(4))


def test_from_panns_strict_load(tmp_path):
    path = tmp_path / "panns.pth"
    state = _make_checkpoint(path, _panns_table(scale=16))
    model = enc.Cnn14Encoder.from_panns(path)
    assert model.width == WIDTH and model.channels == (4, 8, 16, 32, 64, 128)
    loaded = model.state_dict()
    for key, value in state.items():
        if key.startswith("conv_block"):
            assert torch.equal(loaded[key], value), key
    assert len(model.encoder_state_dict()) == 72
    # our own encoder file (a bare 72-key dict, like the paper's best_encoder.pth) loads too
    own = tmp_path / "best_encoder.pt"
    torch.save(model.encoder_state_dict(), own)
    again = enc.Cnn14Encoder.from_panns(own, seed=9)
    assert torch.equal(again.conv_block6.conv2.weight, model.conv_block6.conv2.weight)


def test_from_panns_wrong_checkpoint_lists_keys(tmp_path):
    table = _panns_table(scale=16)
    bad = tmp_path / "bad.pth"
    _make_checkpoint(
        bad, table, drop=("conv_block4.bn2.running_var", "conv_block2.conv1.weight"),
        reshape={"conv_block5.conv2.weight": (64, 64, 1, 1)},
    )
    with pytest.raises(enc.CheckpointError) as info:
        enc.Cnn14Encoder.from_panns(bad)
    text = str(info.value)
    assert "conv_block4.bn2.running_var" in text and "conv_block2.conv1.weight" in text
    assert "conv_block5.conv2.weight" in text and "(64, 64, 1, 1)" in text
    # right keys, wrong width requested
    good = tmp_path / "good.pth"
    _make_checkpoint(good, table)
    with pytest.raises(enc.CheckpointError, match="mis-shaped"):
        enc.Cnn14Encoder.from_panns(good, width=0.125)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(enc.CheckpointError, match="junk.pth"):
        enc.Cnn14Encoder.from_panns(junk)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        enc.Cnn14Encoder.from_panns(tmp_path / "missing.pth")


def test_download_offline_message(tmp_path):
    from bioal.download import DownloadError

    with pytest.raises(DownloadError) as info:
        enc.download_panns_checkpoint(tmp_path, progress=False, url="http://127.0.0.1:9/none.pth")
    assert str(tmp_path / enc.PANNS_FILENAME) in str(info.value)
    assert enc.PANNS_MD5 in str(info.value)


def test_download_from_local_server_with_md5(tmp_path):
    import hashlib
    import http.server
    import threading

    served = tmp_path / "srv"
    served.mkdir()
    payload = b"x" * 5000
    (served / "ckpt.pth").write_bytes(payload)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ckpt.pth"
        md5 = hashlib.md5(payload).hexdigest()
        path = enc.download_panns_checkpoint(tmp_path / "cache", progress=False, url=url, md5=md5, size=5000)
        assert path.read_bytes() == payload and path.name == enc.PANNS_FILENAME
        from bioal.download import ChecksumError

        with pytest.raises(ChecksumError):
            enc.download_panns_checkpoint(tmp_path / "other", progress=False, url=url, md5="0" * 32, size=5000)
        assert (tmp_path / "other" / (enc.PANNS_FILENAME + ".corrupt")).is_file()
    finally:
        server.shutdown()
        server.server_close()


def test_seeded_dropout_reproducible():
    model = enc.Cnn14Encoder(width=WIDTH, seed=0).train()
    x = torch.randn(2, 1, 100, 64, generator=torch_generator(0, "x"))
    outs = []
    for seed in (1, 1, 2):
        model.set_dropout_generator(torch_generator(seed, "dropout"))
        outs.append(model(x)["embedding"])
    torch.testing.assert_close(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])
    model.eval()
    with torch.no_grad():
        a, b = model(x)["embedding"], model(x)["embedding"]
    assert torch.equal(a, b)


class _Foreign:
    """A pickled Python object a checkpoint must not hold."""


def test_text_file_is_not_called_a_pickle_and_a_pickle_names_its_object(tmp_path):
    page = tmp_path / "page.pth"
    page.write_text("<html><body>Error 503</body></html>")
    with pytest.raises(enc.CheckpointError) as info:
        enc.Cnn14Encoder.from_panns(page)
    text = str(info.value)
    assert str(page) in text and "pickled" not in text
    assert "not written by torch.save (an HTML page or text?): its 35 bytes begin b'<html><body>" in text
    assert "Unsupported operand 60" in text
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": {}, "note": _Foreign()}, pickled)
    with pytest.raises(enc.CheckpointError, match=r"pickled Python objects besides tensors \(test_encoder\._Foreign\)"):
        enc.Cnn14Encoder.from_panns(pickled)


def test_non_string_key_is_named(tmp_path):
    state = enc.Cnn14Encoder(width=WIDTH, seed=0).encoder_state_dict()
    state[7] = torch.zeros(1)
    with pytest.raises(enc.CheckpointError, match=r"ckpt: key 7 \(int\) is not a parameter name"):
        enc.Cnn14Encoder(width=WIDTH).load_encoder_state(state, source="ckpt")


def test_hand_placed_panns_checkpoint_is_md5_checked_once(tmp_path, monkeypatch):
    path = tmp_path / enc.PANNS_FILENAME
    _make_checkpoint(path, _panns_table(scale=16))
    actual = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(enc.CheckpointError) as info:
        enc.Cnn14Encoder.from_panns(path)
    assert str(path) in str(info.value) and actual in str(info.value) and enc.PANNS_MD5 in str(info.value)
    monkeypatch.setattr(enc, "PANNS_MD5", actual)
    assert enc.Cnn14Encoder.from_panns(path).width == WIDTH
    hashed = []
    monkeypatch.setattr(enc, "md5sum", lambda p: hashed.append(p) or actual)
    enc.Cnn14Encoder.from_panns(path)
    assert hashed == []  # the size and mtime are unchanged: the recorded md5 is used
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    enc.Cnn14Encoder.from_panns(path)
    assert hashed == [path]
