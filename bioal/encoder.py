"""The paper's encoder: PANNs Cnn14's six conv blocks with ceil-mode time pooling (method §3.1).

``Cnn14Encoder(width)`` maps a standardised log-mel ``[B, 1, 1001, 64]`` to per-frame
embeddings ``[B, 32, D]`` (``D = 2048 * width``). ``width=1`` is the paper's encoder with
75,477,312 parameters; smaller widths scale every block's channels for CPU demos.

Weights come from a PANNs ``Cnn14_DecisionLevelMax`` checkpoint (:meth:`Cnn14Encoder.from_panns`,
the 72 ``conv_block*`` tensors of method §3.2, downloaded by :func:`download_panns_checkpoint`) or,
without one, from a seeded Xavier-uniform initialisation.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bioal.download import download_file, md5sum
from bioal.utils import CheckpointFileError, check_tensors, load_torch_file, read_json, torch_generator, write_json

__all__ = [
    "BASE_CHANNELS",
    "PANNS_URL",
    "PANNS_FILENAME",
    "PANNS_SIZE",
    "PANNS_MD5",
    "ConvBlock",
    "SeededDropout",
    "Cnn14Encoder",
    "channels_for_width",
    "panns_state_dict_shapes",
    "download_panns_checkpoint",
    "verify_panns_checkpoint",
    "verify_if_panns_checkpoint",
    "CheckpointError",
    "ENCODER_FILE",
    "encoder_dir",
]

BASE_CHANNELS = (64, 128, 256, 512, 1024, 2048)
PANNS_FILENAME = "Cnn14_DecisionLevelMax_mAP=0.385.pth"
PANNS_URL = "https://zenodo.org/records/3987831/files/Cnn14_DecisionLevelMax_mAP%3D0.385.pth?download=1"
PANNS_SIZE = 327_428_481
PANNS_MD5 = "70539c43c18b6a289b3199c503a82c5a"
#: The trained encoder's weights (notebook 02), in :func:`encoder_dir`: the 72 ``conv_block*``
#: tensors, the layout of the paper's ``best_encoder.pth``.
ENCODER_FILE = "best_encoder.pt"

log = logging.getLogger(__name__)


def encoder_dir(data_root: str | os.PathLike) -> Path:
    """``DATA_ROOT/models/encoder``: the trained encoder, its checkpoint and history."""
    return Path(data_root) / "models" / "encoder"


class CheckpointError(ValueError):
    """A checkpoint does not fit the encoder (missing, unexpected or mis-shaped keys)."""


def channels_for_width(width: float) -> tuple[int, ...]:
    """Channels of the six blocks: ``round(c * width)`` (at least 1) for c in 64..2048."""
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return tuple(max(1, int(round(c * width))) for c in BASE_CHANNELS)


def _ceil_pool_time(x: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """Average pooling whose time axis rounds up (method §3.1): a short last window is padded
    with copies of the mean of its frames, i.e. it averages only the frames it has."""
    kt, _ = kernel
    remainder = x.shape[-2] % kt
    if remainder:
        tail = x[..., -remainder:, :].mean(dim=-2, keepdim=True)  # [B, C, 1, F]
        x = torch.cat([x, tail.expand(*tail.shape[:-2], kt - remainder, tail.shape[-1])], dim=-2)  # [B, C, T', F]
    return F.avg_pool2d(x, kernel_size=kernel)  # [B, C, T'/kt, F/kf]


class SeededDropout(nn.Module):
    """Dropout whose masks come from ``self.generator`` when one is set (else torch's default).

    Training sets a generator derived from ``(seed, epoch)`` so that a resumed training draws
    the same masks as an uninterrupted one; in eval mode it is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.generator is None:
            return F.dropout(x, self.p, training=True)
        keep = torch.rand(x.shape, generator=self.generator, device=self.generator.device).to(x.device) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ConvBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> ceil-mode average pooling.

    Attribute names (``conv1``, ``conv2``, ``bn1``, ``bn2``) match PANNs' state_dict keys.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))  # [B, C_out, T, F]
        x = F.relu(self.bn2(self.conv2(x)))  # [B, C_out, T, F]
        return _ceil_pool_time(x, self.pool)  # [B, C_out, ceil(T/p_t), F/p_f]


class Cnn14Encoder(nn.Module):
    """Six Cnn14 conv blocks -> frequency mean -> 3-tap max+avg smoothing -> dropout.

    Input ``[B, 1, T, 64]`` (or ``[B, T, 64]``) standardised log-mel; ``forward`` returns a
    dict like PANNs: ``embedding`` ``[B, ceil(T/32), D]`` (non-negative), ``clip_embedding``
    ``[B, D]`` (max over frames, the paper's distance space). ``seed`` drives the
    Xavier-uniform initialisation when no checkpoint is loaded.
    """

    def __init__(self, width: float = 1.0, seed: int = 0, dropout: float = 0.2, final_dropout: float = 0.5) -> None:
        super().__init__()
        self.width = float(width)
        self.seed = int(seed)
        self.channels = channels_for_width(width)
        pools = [(2, 2)] * 5 + [(1, 1)]
        ins = (1, *self.channels[:-1])
        for i, (cin, cout, pool) in enumerate(zip(ins, self.channels, pools, strict=True), start=1):
            self.add_module(f"conv_block{i}", ConvBlock(cin, cout, pool))
        self.dropout = SeededDropout(dropout)
        self.final_dropout = SeededDropout(final_dropout)
        self.reset_parameters(seed)

    @property
    def blocks(self) -> list[ConvBlock]:
        return [getattr(self, f"conv_block{i}") for i in range(1, 7)]

    @property
    def embedding_dim(self) -> int:
        """D, the channels of the last block (2048 at width 1)."""
        return self.channels[-1]

    @staticmethod
    def frames_out(n_frames: int) -> int:
        """Embedding frames for ``n_frames`` STFT frames: five ceil halvings (1001 -> 32)."""
        for _ in range(5):
            n_frames = math.ceil(n_frames / 2)
        return n_frames

    def set_dropout_generator(self, generator: torch.Generator | None) -> None:
        """Draw the dropout masks from ``generator`` (``None``: torch's default generator)."""
        self.dropout.generator = generator
        self.final_dropout.generator = generator

    def reset_parameters(self, seed: int) -> None:
        """PANNs init from one seed: Xavier-uniform convs (per-layer generators), BN weight 1, bias 0."""
        self.seed = int(seed)
        for i, block in enumerate(self.blocks, start=1):
            for name in ("conv1", "conv2"):
                weight = getattr(block, name).weight
                if weight.is_meta:
                    continue
                generator = torch_generator(seed, "encoder-init", i, name, device=weight.device)
                with torch.no_grad():
                    nn.init.xavier_uniform_(weight, generator=generator)
            for bn in (block.bn1, block.bn2):
                if bn.weight.is_meta:
                    continue
                bn.reset_parameters()  # weight 1, bias 0, running stats 0/1

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim == 3:
            x = x.unsqueeze(1)  # [B, 1, T, F]
        for block in self.blocks:
            x = self.dropout(block(x))  # [B, C_i, T_i, F_i]: T 1001->501->251->126->63->32->32
        x = x.mean(dim=3)  # [B, D, T_out]
        x = F.max_pool1d(x, kernel_size=3, stride=1, padding=1) + F.avg_pool1d(
            x, kernel_size=3, stride=1, padding=1
        )  # [B, D, T_out]; avg counts the zero padding
        x = self.final_dropout(x)  # [B, D, T_out]
        embedding = x.transpose(1, 2)  # [B, T_out, D]
        return {"embedding": embedding, "clip_embedding": embedding.max(dim=1).values}  # [B, T_out, D], [B, D]

    # ------------------------------------------------------------------ checkpoints

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The 72 ``conv_block*`` tensors (the layout of the paper's ``best_encoder.pth``)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith("conv_block")}

    def load_encoder_state(self, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
        """Strict-load ``conv_block*`` tensors; :class:`CheckpointError` lists every problem."""
        expected = {k: tuple(v.shape) for k, v in self.encoder_state_dict().items()}
        odd = [k for k in state if not isinstance(k, str)]
        if odd:
            raise CheckpointError(
                f"{source}: key {odd[0]!r} ({type(odd[0]).__name__}) is not a parameter name; a state_dict's keys "
                f"are strings ({len(odd)} key(s) are not)"
            )
        given = {k: v for k, v in state.items() if k.startswith("conv_block")}
        try:
            check_tensors(given, source)
        except CheckpointFileError as err:
            raise CheckpointError(str(err)) from None
        missing = sorted(set(expected) - set(given))
        unexpected = sorted(set(given) - set(expected))
        misshaped = [
            f"{k}: file {tuple(given[k].shape)} vs encoder {expected[k]}"
            for k in sorted(set(given) & set(expected))
            if tuple(given[k].shape) != expected[k]
        ]
        if missing or unexpected or misshaped:
            lines = [f"{source} does not fit Cnn14Encoder(width={self.width}):"]
            if missing:
                lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
            if unexpected:
                lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
            if misshaped:
                lines.append(f"  mis-shaped keys ({len(misshaped)}): " + "; ".join(misshaped))
            raise CheckpointError("\n".join(lines))
        self.load_state_dict(given, strict=True)

    @classmethod
    def from_panns(cls, path: str | os.PathLike, width: float | None = None, **kwargs: Any) -> Cnn14Encoder:
        """Encoder with the ``conv_block*`` weights of a PANNs checkpoint (strict).

        ``path`` is the PANNs ``Cnn14_DecisionLevelMax`` file (a dict whose ``'model'`` holds
        the 84-key state_dict of method §3.2) or a bare 72-key encoder state_dict such as the
        paper's ``best_encoder.pth`` or ours. ``width`` defaults to the one the file implies.
        A file named :data:`PANNS_FILENAME` must have the md5 :data:`PANNS_MD5`
        (:func:`verify_panns_checkpoint`), as one placed by hand is not checked on download.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        verify_if_panns_checkpoint(path)
        try:
            blob = load_torch_file(path)
        except CheckpointFileError as err:
            raise CheckpointError(str(err)) from None
        state = blob.get("model", blob) if isinstance(blob, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: expected a state_dict (or a dict with 'model'), got {type(blob).__name__}")
        try:
            check_tensors({k: v for k, v in state.items() if str(k).startswith("conv_block")}, str(path))
        except CheckpointFileError as err:
            raise CheckpointError(str(err)) from None
        if width is None:
            first = state.get("conv_block1.conv1.weight")
            if first is None:
                raise CheckpointError(f"{path}: missing key conv_block1.conv1.weight (not a Cnn14 checkpoint?)")
            width = first.shape[0] / BASE_CHANNELS[0]
        encoder = cls(width=width, **kwargs)
        encoder.load_encoder_state(state, source=str(path))
        return encoder


def panns_state_dict_shapes(width: float = 1.0, classes: int = 527) -> dict[str, tuple[int, ...]]:
    """The 84 keys and shapes of a PANNs ``Cnn14_DecisionLevelMax`` state_dict (method §3.2), in
    registration order, for ``width`` scaling the conv blocks (1.0 = the real file)."""
    ch = channels_for_width(width)
    shapes: dict[str, tuple[int, ...]] = {
        "spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
        "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
        "logmel_extractor.melW": (513, 64),
    }
    for name in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"bn0.{name}"] = (64,)
    shapes["bn0.num_batches_tracked"] = ()
    for i, (cin, cout) in enumerate(zip((1, *ch[:-1]), ch, strict=True), start=1):
        shapes[f"conv_block{i}.conv1.weight"] = (cout, cin, 3, 3)
        shapes[f"conv_block{i}.conv2.weight"] = (cout, cout, 3, 3)
        for bn in ("bn1", "bn2"):
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"conv_block{i}.{bn}.{name}"] = (cout,)
            shapes[f"conv_block{i}.{bn}.num_batches_tracked"] = ()
    shapes["fc1.weight"] = (ch[-1], ch[-1])
    shapes["fc1.bias"] = (ch[-1],)
    shapes["fc_audioset.weight"] = (classes, ch[-1])
    shapes["fc_audioset.bias"] = (classes,)
    return shapes


def download_panns_checkpoint(
    cache_dir: str | os.PathLike,
    progress: bool = True,
    url: str = PANNS_URL,
    md5: str | None = PANNS_MD5,
    size: int | None = PANNS_SIZE,
) -> Path:
    """The PANNs AudioSet checkpoint ``cache_dir/Cnn14_DecisionLevelMax_mAP=0.385.pth`` (method §1.1).

    Downloaded with :func:`bioal.download.download_file` if missing: progress bar, resume of
    a partial file, size and md5 checks (a mismatch raises ``ChecksumError`` and keeps the
    bad file as ``<file>.corrupt``). Offline, ``DownloadError`` says where to put a copy
    downloaded by hand. ``url``/``md5``/``size`` are overridable for local mirrors and tests.
    """
    return download_file(url, Path(cache_dir) / PANNS_FILENAME, md5=md5, size=size, progress=progress)


def verify_panns_checkpoint(path: str | os.PathLike, md5: str | None = None) -> None:
    """Check the PANNs checkpoint at ``path`` has the md5 ``md5`` (default :data:`PANNS_MD5`);
    :class:`CheckpointError` names the file and both digests otherwise.

    A copy placed by hand never passed :func:`download_panns_checkpoint`'s check. The 327 MB
    are hashed once: the result is kept in ``<path>.md5.json`` with the file's size and
    modification time, and reused while those are unchanged (a read-only folder only costs
    the hashing again).
    """
    path, md5 = Path(path), md5 or PANNS_MD5
    stat = path.stat()
    record_path = path.with_name(path.name + ".md5.json")
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        record = read_json(record_path) if record_path.is_file() else None
    except (OSError, ValueError):
        record = None
    if isinstance(record, dict) and {k: record.get(k) for k in key} == key and isinstance(record.get("md5"), str):
        actual = record["md5"]
    else:
        actual = md5sum(path)
        try:
            write_json(record_path, {**key, "md5": actual})
        except OSError as err:
            log.debug("cannot record the md5 of %s in %s (%s)", path, record_path, err)
    if actual.lower() != md5.lower():
        raise CheckpointError(
            f"{path}: md5 {actual}, expected {md5.lower()} for the PANNs checkpoint {PANNS_FILENAME} "
            f"({stat.st_size} bytes, expected {PANNS_SIZE}): truncated, damaged or another file under its name. "
            f"Delete it (and {record_path.name}) to download it again, or place a good copy from {PANNS_URL}"
        )


def verify_if_panns_checkpoint(path: str | os.PathLike) -> None:
    """:func:`verify_panns_checkpoint` for a file named :data:`PANNS_FILENAME` (wherever it
    lies); any other file (your own, the paper's ``best_encoder.pth``) is not checked."""
    if Path(path).name == PANNS_FILENAME:
        verify_panns_checkpoint(path)
