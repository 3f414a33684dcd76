"""The audio and frame grid every stage shares (method §1.5, §2.1): one home for these numbers.

A clip is ``CLIP_SECONDS`` of mono audio at ``SAMPLE_RATE``, i.e. ``CLIP_SAMPLES`` samples
(a waveform ``[320000]``); clips start every ``CLIP_HOP_SECONDS`` along a recording. Two
frame grids live on a clip and must not be confused:

* ``STFT_FRAMES`` (1001): STFT frames of the log-mel front end, hop ``HOP_LENGTH`` samples
  with centre padding, so a log-mel is ``[1001, N_MELS]``;
* ``LABEL_FRAMES`` (32): the label and embedding frames, ``ceil(1001 / 32)``, so frame
  labels are ``[32, C]`` and frame embeddings ``[32, D]``; label frame ``t`` starts at
  STFT frame ``32 t`` (the last one is shorter).
"""

from __future__ import annotations

__all__ = [
    "SAMPLE_RATE",
    "CLIP_SECONDS",
    "CLIP_SAMPLES",
    "CLIP_HOP_SECONDS",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "STFT_FRAMES",
    "LABEL_FRAMES",
    "LABEL_FRAME_STRIDE",
]

SAMPLE_RATE: int = 32000
CLIP_SECONDS: float = 10.0
CLIP_SAMPLES: int = int(SAMPLE_RATE * CLIP_SECONDS)  # 320000
CLIP_HOP_SECONDS: float = 5.0
N_FFT: int = 1024
HOP_LENGTH: int = 320
N_MELS: int = 64
STFT_FRAMES: int = CLIP_SAMPLES // HOP_LENGTH + 1  # 1001 STFT frames per clip
LABEL_FRAME_STRIDE: int = 32  # STFT frames per label frame
LABEL_FRAMES: int = -(-STFT_FRAMES // LABEL_FRAME_STRIDE)  # 32
