"""MLP classifier: size, deterministic init, PANNs resize, loss, per-round training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bioal.classifier import (
    ClassifierConfig,
    MLPClassifier,
    build_classifier,
    evaluate,
    pos_weight_bce,
    predict_probs,
    read_panns_fc,
    resize_panns_fc,
    train_classifier,
)
from bioal.config import ConfigError
from bioal.utils import rng


def test_parameter_count_paper_sizes():
    model = MLPClassifier(7)
    assert sum(p.numel() for p in model.parameters()) == 2_105_351
    assert sum(p.numel() for p in MLPClassifier(45).parameters()) == 2_144_301


def test_forward_shape():
    model = MLPClassifier(3, in_dim=16, hidden=8)
    assert model(torch.zeros(2, 32, 16)).shape == (2, 32, 3)


def test_seeded_init_bit_identical_and_seed_dependent():
    a, b = MLPClassifier(7, 64, 32, init_seed=3), MLPClassifier(7, 64, 32, init_seed=3)
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(ta, tb)
    c = MLPClassifier(7, 64, 32, init_seed=4)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)
    bound = 1 / np.sqrt(64)
    assert a.fc1.weight.abs().max() <= bound


def test_output_prior_sets_only_the_output_biases():
    base = MLPClassifier(7, 64, 32, init_seed=3)
    prior = MLPClassifier(7, 64, 32, init_seed=3, output_prior=0.01)
    expected = torch.full((7,), float(np.log(0.01 / 0.99)))
    assert torch.equal(prior.fc2.bias.detach(), expected)
    for name in ("fc1.weight", "fc1.bias", "fc2.weight"):  # the rest of the init is untouched
        assert torch.equal(base.state_dict()[name], prior.state_dict()[name]), name
    # with zero inputs and zero first-layer biases, every class starts at exactly p
    with torch.no_grad():
        prior.fc1.bias.zero_()
    np.testing.assert_allclose(torch.sigmoid(prior(torch.zeros(1, 4, 64))).detach().numpy(), 0.01, rtol=1e-6)
    # on the PANNs resize as well; and build_classifier takes it from the config
    panns = MLPClassifier(7, in_dim=256, hidden=128, panns_fc=_fake_panns(), output_prior=0.2)
    assert torch.allclose(panns.fc2.bias.detach(), torch.full((7,), float(np.log(0.25))))
    built = build_classifier(ClassifierConfig(hidden=32, init_seed=3, prior=0.01), 7, 64)
    assert torch.equal(built.fc2.bias.detach(), expected)
    assert not torch.equal(build_classifier(ClassifierConfig(hidden=32, init_seed=3), 7, 64).fc2.bias, expected)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="output_prior"):
            MLPClassifier(7, 64, 32, output_prior=bad)
        with pytest.raises(ConfigError, match="CLASSIFIER_PRIOR"):
            ClassifierConfig(prior=bad)


def _fake_panns(seed=0):
    g = torch.Generator().manual_seed(seed)  # test-only generator, local
    return {
        "fc1.weight": torch.randn(2048, 2048, generator=g),
        "fc1.bias": torch.randn(2048, generator=g),
        "fc_audioset.weight": torch.randn(527, 2048, generator=g),
        "fc_audioset.bias": torch.randn(527, generator=g),
    }


def _bilinear_ref(t: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Plain align_corners bilinear resize (rows and columns positions i*(H-1)/(h-1))."""
    h, w = t.shape

    def pos(n_out, n_in):
        return np.zeros(1) if n_out == 1 else np.arange(n_out) * (n_in - 1) / (n_out - 1)

    out = np.zeros((rows, cols))
    for i, r in enumerate(pos(rows, h)):
        r0 = int(np.floor(r))
        r1 = min(r0 + 1, h - 1)
        fr = r - r0  # noqa: E702
        row = (1 - fr) * t[r0] + fr * t[r1]
        for j, c in enumerate(pos(cols, w)):
            c0 = int(np.floor(c))
            c1 = min(c0 + 1, w - 1)
            fc = c - c0  # noqa: E702
            out[i, j] = (1 - fc) * row[c0] + fc * row[c1]
    return out


def test_panns_resize_paper_positions():
    fc = _fake_panns()
    out = resize_panns_fc(fc, 7)
    assert out["fc1.weight"].shape == (1024, 2048) and out["fc2.weight"].shape == (7, 1024)
    # fc1 rows at i*2047/1023, columns unchanged
    w = fc["fc1.weight"].double().numpy()
    for i in (0, 1, 511, 1023):
        p = i * 2047 / 1023
        r0 = int(np.floor(p))
        ref = w[r0] if r0 == 2047 else (1 - (p - r0)) * w[r0] + (p - r0) * w[min(r0 + 1, 2047)]
        np.testing.assert_allclose(out["fc1.weight"][i].double().numpy(), ref, rtol=1e-5, atol=1e-5)
    # fc2 rows at i*526/6: 0, 87.67, ..., 526; bias endpoints exact
    b = fc["fc_audioset.bias"].numpy()
    assert out["fc2.bias"][0] == b[0] and out["fc2.bias"][-1] == b[-1]
    np.testing.assert_allclose(out["fc2.bias"][3], b[263], rtol=1e-6)
    small = _bilinear_ref(fc["fc_audioset.weight"][:40, :30].double().numpy(), 5, 7)
    got = resize_panns_fc({**fc, "fc_audioset.weight": fc["fc_audioset.weight"][:40, :30]}, 5, hidden=7)["fc2.weight"]
    np.testing.assert_allclose(got.double().numpy(), small, rtol=1e-5, atol=1e-5)


def test_panns_init_generalises_and_is_deterministic(tmp_path):
    path = tmp_path / "panns.pth"
    torch.save({"model": _fake_panns()}, path)
    fc = read_panns_fc(path)
    a = MLPClassifier(7, in_dim=256, hidden=128, panns_fc=fc)
    b = MLPClassifier(7, in_dim=256, hidden=128, panns_fc=read_panns_fc(path))
    assert a.fc1.weight.shape == (128, 256)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    np.testing.assert_allclose(
        a.fc1.weight.detach().double().numpy(), _bilinear_ref(fc["fc1.weight"].double().numpy(), 128, 256), atol=3e-3
    )  # torch computes source positions in float32 (as the paper's resize did): ~1e-4 position error


def test_a_file_named_as_the_panns_checkpoint_is_md5_checked(tmp_path):
    from bioal.encoder import PANNS_FILENAME, PANNS_MD5, CheckpointError

    path = tmp_path / PANNS_FILENAME
    torch.save({"model": _fake_panns()}, path)
    with pytest.raises(CheckpointError, match=PANNS_MD5):
        read_panns_fc(path)
    other = tmp_path / "panns.pth"
    path.rename(other)
    assert set(read_panns_fc(other)) == {"fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias"}


def test_read_panns_missing_and_misshaped_keys(tmp_path):
    fc = _fake_panns()
    del fc["fc1.bias"]
    torch.save({"model": fc}, tmp_path / "a.pth")
    with pytest.raises(KeyError, match=r"fc1\.bias"):
        read_panns_fc(tmp_path / "a.pth")
    fc = _fake_panns()
    fc["fc_audioset.bias"] = torch.zeros(10)
    torch.save({"model": fc}, tmp_path / "b.pth")
    with pytest.raises(ValueError, match="fc_audioset.bias"):
        read_panns_fc(tmp_path / "b.pth")


def test_pos_weight_bce_formula():
    g = rng(0, "test-bce")
    logits = torch.from_numpy(g.normal(size=(3, 4, 2)).astype(np.float32))
    labels = torch.from_numpy((g.random((3, 4, 2)) < 0.3).astype(np.float32))
    labels[..., 1] = 0  # no positives in class 1
    flat_y = labels.reshape(-1, 2)
    n_pos = flat_y.sum(0)
    pw = (12 - n_pos) / (n_pos + 1e-5)
    ref = F.binary_cross_entropy_with_logits(logits.reshape(-1, 2), flat_y, pos_weight=pw)
    assert torch.allclose(pos_weight_bce(logits, labels), ref)
    # manual element-wise check
    x, y = logits.reshape(-1, 2), flat_y
    manual = -(pw * y * F.logsigmoid(x) + (1 - y) * F.logsigmoid(-x)).mean()
    assert torch.allclose(pos_weight_bce(logits, labels), manual, atol=1e-6)


def _toy_frames(seed, n, t=4, d=12, c=3):
    g = rng(seed, "toy-frames")
    centres = rng(0, "toy-centres").normal(size=(c, d)).astype(np.float32) * 2
    y = np.zeros((n, t, c), np.float32)
    cls = g.integers(-1, c, size=n)
    for i, k in enumerate(cls):
        if k >= 0:
            y[i, 1:3, k] = 1
    x = g.normal(size=(n, t, d)).astype(np.float32) * 0.5 + np.einsum("ntc,cd->ntd", y, centres)
    return x, y


def test_training_learns_is_deterministic_and_stops():
    x, y = _toy_frames(1, 60)
    vx, vy = _toy_frames(2, 40)
    cfg = ClassifierConfig(hidden=16, max_epochs=300, batch_size=16)
    a = train_classifier(x, y, vx, vy, cfg, seed=5, device="cpu")
    b = train_classifier(x, y, vx, vy, cfg, seed=5, device="cpu")
    assert a.history == b.history
    assert all(
        torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    )
    assert a.history[-1]["lr"] < 1e-4 or a.epochs == 300
    assert len(a.history) >= 43 or a.epochs == 300  # epoch 1 sets the best, then 7 halvings x 6 epochs
    assert max(h["valid_cmap"] for h in a.history) > 0.9
    assert a.history[0]["loss"] > a.history[-1]["loss"]
    assert np.isclose(a.valid_ap.mean(), max(h["valid_cmap"] for h in a.history))
    assert a.history[a.best_epoch - 1]["valid_cmap"] == max(h["valid_cmap"] for h in a.history)
    c = train_classifier(x, y, vx, vy, cfg, seed=6, device="cpu")
    assert c.history != a.history
    ev = evaluate(a.model, vx, vy, vx, vy)
    np.testing.assert_allclose(ev.valid_ap, a.valid_ap)
    np.testing.assert_allclose(ev.test_f1, ev.valid_f1)
    assert 0 < ev.threshold < 1


def test_lr_schedule_halves_on_plateau():
    x, y = _toy_frames(3, 20)
    cfg = ClassifierConfig(hidden=8, max_epochs=400, batch_size=128)
    out = train_classifier(x, y, x, y, cfg, seed=0)
    lrs = [h["lr"] for h in out.history]
    assert lrs[0] == 5e-4
    assert set(lrs) <= {5e-4 * 0.5**i for i in range(8)}
    assert out.epochs < 400 and lrs[-1] == pytest.approx(5e-4 * 0.5**6)


def test_predict_probs_reduce_max():
    model = MLPClassifier(3, 12, 8)
    x, _ = _toy_frames(4, 10)
    p = predict_probs(model, x, batch_size=3)
    assert p.shape == (10, 4, 3)
    assert torch.equal(predict_probs(model, x, batch_size=4, reduce="max"), p.amax(dim=1))


def test_feature_scaler_matches_numpy_and_keeps_constant_dimensions():
    from bioal.classifier import FeatureScaler

    g = np.random.default_rng(4)
    x = (5.0 + 0.01 * g.standard_normal((37, 6, 5))).astype(np.float32)
    x[:, :, 2] = 3.0  # a constant dimension: centred, not divided by zero
    scaler = FeatureScaler.fit(x, chunk=4)
    flat = x.reshape(-1, 5).astype(np.float64)
    np.testing.assert_allclose(scaler.mean, flat.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scaler.std[[0, 1, 3, 4]], flat.std(0)[[0, 1, 3, 4]], rtol=1e-3)
    assert scaler.std[2] == 1.0
    z = scaler.transform(x, chunk=5)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.reshape(-1, 5).mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(z.reshape(-1, 5).std(0)[[0, 1, 3, 4]], 1, atol=1e-3)
    assert (z[:, :, 2] == 0).all()
    with pytest.raises(ValueError, match=r"\[N, T, D\]"):
        FeatureScaler.fit(np.zeros((0, 6, 5), np.float32))


@pytest.mark.parametrize(
    "case, message",
    [
        ("nan", r"valid_x: clip 3 has NaN/inf features"),
        ("dim", r"valid_x: expected \[V, T, D\] with D = 8 \(as train_x\), got \(10, 4, 6\)"),
        ("classes", r"valid_y: expected \[V, T, C\] = \(10, 4, 2\) .*got \(10, 4, 1\)"),
        ("frames", r"valid_y: expected \[V, T, C\] = \(10, 4, 2\) .*got \(10, 2, 2\)"),
        ("clips", r"valid_y: expected \[V, T, C\] = \(10, 4, 2\) .*got \(5, 4, 2\)"),
        ("empty", r"valid_x: the valid split has no clips"),
    ],
)
def test_valid_inputs_are_checked_before_training(case, message, monkeypatch):
    g = rng(0, "test-valid-checks")
    x, y = g.normal(size=(6, 4, 8)).astype(np.float32), (g.random((6, 4, 2)) < 0.3).astype(np.float32)
    vx, vy = g.normal(size=(10, 4, 8)).astype(np.float32), (g.random((10, 4, 2)) < 0.3).astype(np.float32)
    if case == "nan":
        vx[3, 1, 2] = np.nan
    elif case == "dim":
        vx = vx[:, :, :6]
    elif case == "classes":
        vy = vy[:, :, :1]
    elif case == "frames":
        vy = vy[:, :2]
    elif case == "clips":
        vy = vy[:5]
    else:
        vx, vy = vx[:0], vy[:0]
    monkeypatch.setattr("bioal.classifier.build_classifier", lambda *a: pytest.fail("trained before checking"))
    with pytest.raises(ValueError, match=message):
        train_classifier(x, y, vx, vy, ClassifierConfig(hidden=4, max_epochs=1), seed=0)
