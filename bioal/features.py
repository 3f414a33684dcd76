"""Log-mel front end (method §2): power spectrogram, Slaney mel filterbank, dB, standardisation.

The front end is the one of PANNs / the paper, rebuilt on torchaudio:

* 32 kHz audio, FFT 1024, hop 320, periodic Hann window of 1024, centre reflect padding,
  power 2 -> ``[..., 513, 1001]`` for a 10 s clip;
* the librosa/Slaney mel filterbank (64 bands, 50-14000 Hz, Slaney area normalisation);
* ``10 * log10(max(x, 1e-10))`` with no ``top_db`` floor, so digital silence is exactly -100 dB;
* then one global scalar mean/std over the train split (``prepared/<division>/mean_std.json``).

Augmentations of the supervised encoder training (method §2.3) live here too:
Gaussian noise scaled by the clip's std, and frequency masking, which the paper configures
but never applies (method Q1), so it is off unless asked for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio
from torch import nn
from tqdm.auto import tqdm

from bioal.data import ClipDataset
from bioal.grid import CLIP_SAMPLES, CLIP_SECONDS, HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, STFT_FRAMES
from bioal.utils import read_json, write_json

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "FMIN",
    "FMAX",
    "AMIN",
    "CLIP_SECONDS",
    "CLIP_SAMPLES",
    "STFT_FRAMES",
    "LogMelExtractor",
    "log_mel",
    "mel_filterbank",
    "standardise",
    "add_noise",
    "freq_mask",
    "MeanStd",
    "mean_std_from_batches",
    "compute_mean_std",
    "load_mean_std",
    "mean_std_path",
]

FMIN = 50.0
FMAX = 14000.0
AMIN = 1e-10


def mel_filterbank(sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """The Slaney mel matrix ``[513, 64]`` (librosa's ``filters.mel(...).T``), float32."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs=N_FFT // 2 + 1,
        f_min=FMIN,
        f_max=FMAX,
        n_mels=N_MELS,
        sample_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    ).to(torch.float32)


class LogMelExtractor(nn.Module):
    """Waveform ``[..., L]`` at 32 kHz -> log-mel in dB ``[..., L // 320 + 1, 64]``.

    Frozen (no trainable parameters); the window and mel matrix are buffers, so
    ``.to(device)`` moves them. With ``mean``/``std`` given, the output is standardised.
    """

    def __init__(self, mean: float | None = None, std: float | None = None) -> None:
        super().__init__()
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=N_FFT,
            win_length=N_FFT,
            hop_length=HOP_LENGTH,
            window_fn=torch.hann_window,  # periodic by default, as scipy/librosa "hann"
            center=True,
            pad_mode="reflect",
            power=2.0,
        )
        self.register_buffer("melW", mel_filterbank(), persistent=False)
        self.mean = mean
        self.std = std

    #: On the CPU a batch goes through in slices of this many waveforms: one clip's complex
    #: spectrogram (4 MB) stays in cache, and a batch of 32 clips runs about three times faster
    #: with the same numbers (benchmarks/RESULTS.md). Other devices take the batch whole.
    CPU_SLICE = 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.to(torch.float32)
        if x.device.type == "cpu" and math.prod(x.shape[:-1]) > self.CPU_SLICE:
            flat = x.reshape(-1, x.shape[-1])  # [N, L]
            db = torch.cat([self._decibels(part) for part in flat.split(self.CPU_SLICE)])  # [N, T, 64]
            db = db.reshape(*x.shape[:-1], *db.shape[-2:])
        else:
            db = self._decibels(x)
        if self.mean is not None and self.std is not None:
            db = standardise(db, self.mean, self.std)
        return db

    def _decibels(self, x: torch.Tensor) -> torch.Tensor:
        power = self.spectrogram(x)  # [..., 513, T]
        mel = torch.matmul(power.transpose(-1, -2), self.melW)  # [..., T, 64]
        return 10.0 * torch.log10(torch.clamp(mel, min=AMIN))  # [..., T, 64]; ref 1.0 -> no offset


_EXTRACTORS: dict[str, LogMelExtractor] = {}


def log_mel(waveform: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> np.ndarray | torch.Tensor:
    """Log-mel spectrogram in dB (not standardised): ``[..., L]`` -> ``[..., frames, 64]``.

    A 10 s clip at 32 kHz gives ``[1001, 64]``. Other sample rates are resampled to 32 kHz
    first. NumPy in -> NumPy float32 out; tensor in -> tensor out (same device).
    """
    is_numpy = not isinstance(waveform, torch.Tensor)
    x = torch.as_tensor(np.asarray(waveform, dtype=np.float32)) if is_numpy else waveform
    if x.ndim == 0:
        raise ValueError("log_mel expects a waveform [..., samples], got a scalar")
    if sample_rate != SAMPLE_RATE:
        x = torchaudio.functional.resample(x.to(torch.float32), int(sample_rate), SAMPLE_RATE)
    key = str(x.device)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = LogMelExtractor().to(x.device)
    with torch.no_grad():
        out = _EXTRACTORS[key](x)
    return out.numpy() if is_numpy else out


def standardise(features: torch.Tensor | np.ndarray, mean: float, std: float) -> Any:
    """``(features - mean) / std`` with the global scalar statistics (method §2.2)."""
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    return (features - mean) / std


# --------------------------------------------------------------------------- augmentation


def add_noise(
    waveform: torch.Tensor,
    generator: torch.Generator,
    prob: float = 0.5,
    coef_min: float = 0.1,
    coef_max: float = 0.3,
) -> torch.Tensor:
    """Noise augmentation (method §2.3), per clip of ``[B, L]`` (or ``[L]``).

    With probability ``prob``: draw ``coef ~ U(coef_min, coef_max)``, add Gaussian noise times
    ``std(clip) * coef`` and clamp to [-1, 1]. Other clips are returned unchanged. All draws
    come from ``generator`` (on the waveform's device).
    """
    squeeze = waveform.ndim == 1
    x = waveform.unsqueeze(0) if squeeze else waveform  # [B, L]
    batch = x.shape[0]
    apply = torch.rand(batch, generator=generator, device=generator.device) < prob  # [B]
    coef = coef_min + (coef_max - coef_min) * torch.rand(batch, generator=generator, device=generator.device)  # [B]
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32)  # [B, L]
    apply, coef, noise = apply.to(x.device), coef.to(x.device), noise.to(x.device)
    scale = x.std(dim=-1, keepdim=True) * coef.unsqueeze(-1)  # [B, 1]
    noisy = torch.clamp(x + noise * scale, -1.0, 1.0)  # [B, L]
    out = torch.where(apply.unsqueeze(-1), noisy, x)  # [B, L]
    return out.squeeze(0) if squeeze else out


def freq_mask(
    features: torch.Tensor,
    generator: torch.Generator,
    prob: float = 0.5,
    drop_width: int = 8,
    stripes: int = 2,
) -> torch.Tensor:
    """Frequency masking on ``[B, T, F]`` features (the SpecAugment the paper configures).

    With probability ``prob`` per clip, ``stripes`` bands of width ``U{0..drop_width-1}`` mel
    bins at random positions are set to 0 (the mean after standardisation). The paper's
    release leaves this inert (method Q1); :mod:`bioal.training` applies it only when
    ``freq_mask=True``.
    """
    batch, _, n_freq = features.shape
    dev = generator.device
    apply = torch.rand(batch, generator=generator, device=dev) < prob  # [B]
    widths = torch.randint(0, drop_width, (batch, stripes), generator=generator, device=dev)  # [B, S]
    starts = (torch.rand((batch, stripes), generator=generator, device=dev) * (n_freq - widths + 1)).long()  # [B, S]
    bins = torch.arange(n_freq, device=dev).view(1, 1, n_freq)  # [1, 1, F]
    hit = (bins >= starts.unsqueeze(-1)) & (bins < (starts + widths).unsqueeze(-1))  # [B, S, F]
    mask = hit.any(dim=1) & apply.unsqueeze(-1)  # [B, F]
    return features.masked_fill(mask.to(features.device).unsqueeze(1), 0.0)  # [B, T, F]


# --------------------------------------------------------------------------- statistics


class MeanStd(tuple):
    """``(mean, std)`` of the train split's log-mel values (a named 2-tuple of floats)."""

    def __new__(cls, mean: float, std: float) -> MeanStd:
        return super().__new__(cls, (float(mean), float(std)))

    @property
    def mean(self) -> float:
        return self[0]

    @property
    def std(self) -> float:
        return self[1]


def mean_std_from_batches(batches: Iterable[torch.Tensor | np.ndarray]) -> MeanStd:
    """Global scalar mean and sample std (ddof 1) over every value of every batch.

    method §2.2: mean = sum(x)/n, std = sqrt((sum(x^2) - sum(x)^2/n)/(n-1)). Sums are taken
    per batch in float64 and accumulated as Python floats. Non-finite values are an error.
    """
    total = 0.0
    total_sq = 0.0
    count = 0
    for i, batch in enumerate(batches):
        x = torch.as_tensor(batch).to(torch.float64)
        if not torch.isfinite(x).all():
            raise ValueError(f"batch {i} of the log-mel features holds NaN/inf")
        total += float(x.sum())
        total_sq += float((x * x).sum())
        count += x.numel()
    if count < 2:
        raise ValueError(f"need at least 2 values for mean/std, got {count}")
    mean = total / count
    var = (total_sq - total * total / count) / (count - 1)
    return MeanStd(mean, math.sqrt(max(var, 0.0)))


def mean_std_path(prepared_root: str | os.PathLike, division: str) -> Path:
    """``prepared/<division>/mean_std.json``."""
    return Path(prepared_root) / division / "mean_std.json"


def compute_mean_std(
    prepared_root: str | os.PathLike,
    division: str = "AL",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = True,
    overwrite: bool = False,
    keep: list[torch.Tensor] | None = None,
    keep_bytes: int = 0,
) -> MeanStd:
    """Mean/std of the log-mels of every sequential train clip of ``division``; cached.

    Reads the existing ``prepared/<division>/mean_std.json`` unless ``overwrite``; otherwise
    runs the front end over the train split's clips (zero padding included, no
    augmentation, method §2) and writes the JSON atomically: ``{"mean", "std", "n_clips", "n_values"}``.

    ``keep``: a list that receives the computed log-mel batches ``[b, 1001, 64]`` (dB, not
    standardised, batches of ``batch_size`` from clip 0) on the CPU, so that the caller can
    embed the train split without a second pass over its audio; filled only when the pass
    runs and the whole split fits in ``keep_bytes``, else left empty.
    """
    path = mean_std_path(prepared_root, division)
    if path.is_file() and not overwrite:
        return load_mean_std(prepared_root, division)
    dataset = ClipDataset(prepared_root, division, "train")
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{prepared_root}/{division}: the train split has no clips")
    extractor = LogMelExtractor().to(device)
    keeping = keep is not None and n * STFT_FRAMES * N_MELS * 4 <= keep_bytes

    def batches() -> Iterable[torch.Tensor]:
        for lo in tqdm(range(0, n, batch_size), desc=f"mean/std {division}", disable=not progress):
            wave = torch.stack([torch.as_tensor(dataset[i][0]) for i in range(lo, min(lo + batch_size, n))])
            with torch.no_grad():
                feats = extractor(wave.to(device)).cpu()  # [b, 1001, 64]
            if keeping:
                keep.append(feats)
            yield feats

    stats = mean_std_from_batches(batches())
    write_json(path, {"mean": stats.mean, "std": stats.std, "n_clips": n, "n_values": n * STFT_FRAMES * N_MELS})
    return stats


def load_mean_std(prepared_root: str | os.PathLike, division: str = "AL") -> MeanStd:
    """Read ``prepared/<division>/mean_std.json``; a clear error if it is missing or bad."""
    path = mean_std_path(prepared_root, division)
    if not path.is_file():
        raise FileNotFoundError(f"no mean/std at {path}; run bioal.features.compute_mean_std first")
    data = read_json(path)
    for key in ("mean", "std"):
        if key not in data or not isinstance(data[key], (int, float)):
            raise ValueError(f"{path}: key {key!r} missing or not a number")
    if not data["std"] > 0 or not math.isfinite(data["mean"]):
        raise ValueError(f"{path}: invalid statistics mean={data['mean']} std={data['std']}")
    return MeanStd(data["mean"], data["std"])
