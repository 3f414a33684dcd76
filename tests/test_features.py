"""Log-mel front end: equality with librosa, shapes, silence, statistics, augmentation."""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache"))

import librosa
import numpy as np
import pytest
import torch

from bioal import features
from bioal.utils import rng, torch_generator


def _test_signal(seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    g = rng(seed, "test-signal")
    t = np.arange(int(seconds * features.SAMPLE_RATE)) / features.SAMPLE_RATE
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 400 * t**2))
    tone = 0.1 * np.sin(2 * np.pi * 3000 * t)
    noise = 0.05 * g.standard_normal(t.shape)
    return (chirp + tone + noise).astype(np.float32)


def _librosa_db(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=y, sr=32000, n_fft=1024, hop_length=320, win_length=1024, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=64, fmin=50, fmax=14000,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T  # [T, 64]


def test_matches_librosa_within_1e3_db():
    y = _test_signal(10.0)
    ours = features.log_mel(y)
    ref = _librosa_db(y)
    assert ours.shape == (1001, 64) == ref.shape
    above = ref > -100 + 1e-3
    assert above.mean() > 0.99
    assert np.abs(ours[above] - ref[above]).max() < 1e-3


def test_mel_matrix_equals_librosa_slaney():
    ours = features.mel_filterbank().numpy()
    ref = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000).T
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_silence_is_minus_100_db_and_no_top_db():
    out = features.log_mel(np.zeros(320000, dtype=np.float32))
    assert out.shape == (1001, 64)
    assert np.all(out == -100.0)
    # a loud part next to silence is not floored at max - 80 dB
    y = np.zeros(320000, dtype=np.float32)
    y[:32000] = _test_signal(1.0)
    db = features.log_mel(y)
    assert db.max() - db.min() > 80


def test_tensor_in_tensor_out_and_batch_shape():
    y = torch.as_tensor(np.stack([_test_signal(10.0, 1), _test_signal(10.0, 2)]))
    out = features.log_mel(y)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1001, 64)
    single = features.log_mel(y[1].numpy())
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(out[1].numpy(), single, atol=1e-4)


def test_cpu_slices_give_the_whole_batch_numbers(monkeypatch):
    y = torch.as_tensor(np.stack([_test_signal(2.0, s) for s in range(6)])).reshape(2, 3, -1)  # [2, 3, L]
    extractor = features.LogMelExtractor(mean=-30.0, std=10.0)
    sliced = extractor(y)
    assert sliced.shape == (2, 3, 201, 64)
    monkeypatch.setattr(features.LogMelExtractor, "CPU_SLICE", 64)  # the whole batch in one pass
    whole = extractor(y)
    torch.testing.assert_close(sliced, whole, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(sliced[1, 2], extractor(y[1, 2]), rtol=1e-6, atol=1e-5)


def test_resampling_other_rates():
    y16 = _test_signal(10.0)[::2].copy()  # crude 16 kHz signal
    out = features.log_mel(y16, sample_rate=16000)
    assert out.shape == (1001, 64)


def test_mean_std_formulas_sample_std():
    g = rng(0, "ms")
    batches = [g.normal(3.0, 2.0, size=(4, 10, 64)).astype(np.float32) for _ in range(3)]
    stats = features.mean_std_from_batches(batches)
    flat = np.concatenate([b.ravel() for b in batches]).astype(np.float64)
    assert stats.mean == pytest.approx(flat.mean(), rel=1e-9)
    assert stats.std == pytest.approx(flat.std(ddof=1), rel=1e-9)
    with pytest.raises(ValueError, match="batch 1"):
        features.mean_std_from_batches([batches[0], np.full((2, 2), np.nan)])


def test_mean_std_json_roundtrip_and_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="mean_std.json"):
        features.load_mean_std(tmp_path, "AL")
    path = features.mean_std_path(tmp_path, "AL")
    path.parent.mkdir(parents=True)
    path.write_text('{"mean": -40.5, "std": 0}')
    with pytest.raises(ValueError, match="invalid statistics"):
        features.load_mean_std(tmp_path, "AL")
    path.write_text('{"mean": -40.5, "std": 12.0}')
    assert features.load_mean_std(tmp_path, "AL") == (-40.5, 12.0)


def test_standardised_extractor():
    y = torch.as_tensor(_test_signal(2.0))
    raw = features.LogMelExtractor()(y)
    std = features.LogMelExtractor(mean=-30.0, std=10.0)(y)
    torch.testing.assert_close(std, (raw + 30.0) / 10.0)
    assert sum(p.numel() for p in features.LogMelExtractor().parameters()) == 0


def test_noise_augmentation_seeded_and_clamped():
    x = torch.as_tensor(np.stack([_test_signal(1.0, s) for s in range(16)]))
    a = features.add_noise(x, torch_generator(0, "noise"))
    b = features.add_noise(x, torch_generator(0, "noise"))
    c = features.add_noise(x, torch_generator(1, "noise"))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    changed = (a != x).any(dim=1)
    assert 0 < changed.sum() < 16  # p = 0.5 per clip
    assert a.abs().max() <= 1.0
    # noise level within coef * std
    for i in np.flatnonzero(changed.numpy()):
        ratio = (a[i] - x[i]).std() / x[i].std()
        assert 0.08 < ratio < 0.32
    assert torch.equal(features.add_noise(x, torch_generator(0, "n"), prob=0.0), x)


def test_freq_mask_option():
    f = torch.randn(32, 20, 64, generator=torch_generator(0, "f"))
    out = features.freq_mask(f, torch_generator(0, "fm"), prob=1.0)
    zero_bins = (out == 0).all(dim=1)  # [B, F]
    assert (zero_bins.sum(dim=1) <= 2 * 7).all()
    assert zero_bins.any()
    kept = ~zero_bins.unsqueeze(1).expand_as(out)
    assert torch.equal(out[kept], f[kept])
    assert torch.equal(features.freq_mask(f, torch_generator(0, "fm"), prob=0.0), f)


def test_the_grid_module_is_the_front_end_and_label_grid():
    from bioal import dcase, grid

    mel = features.log_mel(np.zeros(grid.CLIP_SAMPLES, dtype=np.float32))
    assert mel.shape == (grid.STFT_FRAMES, grid.N_MELS) == (1001, 64)
    assert len(dcase.frame_boundaries()) == grid.LABEL_FRAMES + 1 == 33
