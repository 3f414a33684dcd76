"""Supervised encoder training on the SL division (method §3.3), resumable per epoch.

The encoder (:class:`bioal.encoder.Cnn14Encoder`) plus a per-frame MLP head
(:class:`bioal.classifier.MLPClassifier`, 45 SL classes) are trained together:

* **Data.** Each step draws ``ENCODER_BATCH_SIZE`` 10 s clips with the balanced
  inverse-duration sampler (:class:`BalancedSampler`): a category (a class or "Negative") with
  probability proportional to 1 / its total start-able duration, a recording with probability
  proportional to its start-able duration for that category, a start uniform over the slots.
  Clips get Gaussian noise (p 0.5, method §2.3), the log-mel front end and the SL-train
  mean/std. Frequency masking is off as in the paper (method Q1) unless ``FREQ_MASK``.
* **Loss.** The per-batch ``pos_weight`` BCE (:func:`bioal.classifier.pos_weight_bce`).
* **Optimiser.** Adam, lr ``ENCODER_LR`` (the paper's 5e-4); ReduceLROnPlateau(max, 0.5, patience 5, rel threshold 1e-4)
  on the valid mAP; stop when lr < 5e-6 or at the ``EPOCHS`` cap; the best encoder by valid
  mAP (strict improvement) is kept.
* **Epoch.** The paper's epoch is as many draws as SL-train has sequential clips;
  ``ENCODER_STEPS_PER_EPOCH > 0`` caps the steps per epoch (the CPU demo).

Files in ``DATA_ROOT/models/encoder/``: ``checkpoint.pt`` (model, head, optimiser, scheduler,
epoch, best, history; written atomically after every epoch), ``best_encoder.pt`` (the 72-key
encoder state_dict, the layout of the paper's ``best_encoder.pth``), ``history.json``.
Every random draw (sampler, noise, dropout, masking) comes from generators derived from
``(SEED, epoch)``, so a training interrupted and started again gives the same history as
one that was never interrupted.

Departure (method Q2): a class with no start-able SL-train duration would make the release
crash; here it is left out of the sampler with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bioal.classifier import MLPClassifier, pos_weight_bce, read_panns_fc
from bioal.config import PAPER_DATA_ROOT, Config, ConfigError
from bioal.data import ClipDataset, clip_table, load_clip, prepared_dir, read_split_labels
from bioal.dcase import clip_frame_labels, event_arrays, prepared_fingerprint
from bioal.encoder import ENCODER_FILE, PANNS_FILENAME, Cnn14Encoder, download_panns_checkpoint, encoder_dir
from bioal.features import LogMelExtractor, add_noise, compute_mean_std, freq_mask
from bioal.grid import CLIP_SECONDS, N_MELS, STFT_FRAMES
from bioal.metrics import class_average_precision, optimal_threshold
from bioal.utils import (
    atomic_path,
    check_fingerprint,
    check_tensors,
    load_torch_file,
    pick_device,
    read_json,
    resolve_path,
    rng,
    torch_generator,
    write_json,
)

__all__ = [
    "EncoderTrainingConfig",
    "BalancedSampler",
    "merge_intervals",
    "subtract_intervals",
    "train_encoder",
    "load_history",
    "describe_init",
    "TrainingResult",
]

log = logging.getLogger(__name__)

EPS = 1e-10


@dataclasses.dataclass(frozen=True)
class EncoderTrainingConfig(Config):
    """Supervised encoder training (notebook 02). Upper-case names are the notebook parameters.

    Defaults are the paper's (``configs/paper.yaml``); the demo preset narrows the encoder
    and caps the epochs.
    """

    preset: str = "paper"
    data_root: str = PAPER_DATA_ROOT
    width: float = 1.0
    epochs: int = 5000  # cap on the number of epochs
    encoder_batch_size: int = 128
    encoder_steps_per_epoch: int = 0  # 0: the paper's epoch (SL-train clip count / batch)
    classifier_hidden: int = 1024
    panns_checkpoint: str = ""
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    freq_mask: bool = False
    encoder_lr: float = 5e-4  # Adam's starting learning rate (the paper's 5e-4)
    min_lr: float = 5e-6
    num_workers: int = 0
    # the SL valid split's standardised log-mels are computed once and kept for every
    # epoch's validation when they fit in this many bytes (same numbers either way)
    feature_cache_bytes: int = 2 * 2**30

    def check(self) -> None:
        if not self.width > 0:
            raise ConfigError(f"WIDTH: must be positive, got {self.width}")
        if self.panns_checkpoint and self.width != 1.0:
            raise ConfigError(f"WIDTH: the PANNs checkpoint needs width 1.0, got {self.width}")
        for name in ("epochs", "encoder_batch_size", "classifier_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()}: must be >= 1, got {getattr(self, name)}")
        if self.feature_cache_bytes < 0:
            raise ConfigError(f"FEATURE_CACHE_BYTES: must be >= 0, got {self.feature_cache_bytes}")
        if self.encoder_steps_per_epoch < 0 or self.num_workers < 0 or self.seed < 0:
            raise ConfigError("ENCODER_STEPS_PER_EPOCH, NUM_WORKERS and SEED must be >= 0")
        if not 0 < self.min_lr < self.encoder_lr:
            raise ConfigError(f"ENCODER_LR/MIN_LR: need 0 < MIN_LR < ENCODER_LR, got {self.min_lr}, {self.encoder_lr}")

    @property
    def root(self) -> Path:
        return resolve_path(self.data_root)

    def resume_key(self) -> dict[str, Any]:
        """Fields that must match for a checkpoint to be continued (the epoch cap may grow)."""
        skip = {"epochs", "device", "num_workers", "preset", "feature_cache_bytes"}
        return {k: v for k, v in self.to_dict().items() if k not in skip}


# --------------------------------------------------------------------------- balanced sampler


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of closed intervals as sorted, disjoint ``(start, end)`` pairs (empty ones dropped)."""
    out: list[list[float]] = []
    for lo, hi in sorted((float(a), float(b)) for a, b in intervals if b > a):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def subtract_intervals(
    whole: tuple[float, float], holes: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """``whole`` minus the union of ``holes``, as sorted disjoint intervals of positive length."""
    out, cursor = [], whole[0]
    for lo, hi in merge_intervals(holes):
        if lo > cursor:
            out.append((cursor, min(lo, whole[1])))
        cursor = max(cursor, hi)
    if cursor < whole[1]:
        out.append((cursor, whole[1]))
    return [(a, b) for a, b in out if b > a]


class BalancedSampler:
    """The SL-train clip sampler of method §3.3 (inverse-duration category weights, random cut).

    ``events``: label table (``Audiofilename, Starttime, Endtime`` + one 1/0/-1 column per
    class); ``durations``: recording -> seconds. Categories are the classes plus
    ``"Negative"`` (start times whose clip overlaps no POS event; UNK counts as negative).
    """

    def __init__(self, events: pd.DataFrame, durations: dict[str, float], class_names: list[str]) -> None:
        self.class_names = list(class_names)
        self.categories = [*self.class_names, "Negative"]
        self.recordings = sorted(durations)
        slots: list[list[list[tuple[float, float]]]] = []  # [category][recording] -> intervals
        groups = {rec: g for rec, g in events.groupby("Audiofilename", sort=False)}
        pos = [[[] for _ in self.recordings] for _ in self.class_names]
        neg = []
        for f, rec in enumerate(self.recordings):
            d = float(durations[rec])
            rows = groups.get(rec)
            union = []
            for c, name in enumerate(self.class_names):
                if rows is None:
                    continue
                hit = rows[rows[name] == 1]
                spans = [(max(0.0, s - CLIP_SECONDS), e) for s, e in zip(hit["Starttime"], hit["Endtime"], strict=True)]
                clipped = [(max(0.0, a), min(d, b)) for a, b in merge_intervals(spans)]
                pos[c][f] = [(a, b) for a, b in clipped if b > a]
                union += pos[c][f]
            neg.append(subtract_intervals((0.0, d), union))
        slots = [*pos, neg]
        self.slots = slots
        self.durations = np.array(
            [[sum(b - a for a, b in slots[k][f]) for f in range(len(self.recordings))] for k in range(len(slots))]
        )  # [K, F] seconds
        totals = self.durations.sum(axis=1)  # [K]
        self.empty = [self.categories[k] for k in np.flatnonzero(totals <= 0)]
        if self.empty:
            log.warning("SL categories with no start-able duration are not sampled (method Q2): %s", self.empty)
        if (totals > 0).sum() == 0:
            raise ValueError("the SL train split has no recording time to sample from")
        weights = np.where(totals > 0, 1.0 / (totals + EPS), 0.0)
        self.category_probs = weights / weights.sum()  # [K]
        self.file_probs = self.durations / (totals[:, None] + EPS)  # [K, F]

    def draw(self, n: int, generator: np.random.Generator) -> list[tuple[str, float]]:
        """``n`` clips as ``(recording, start_s)``."""
        out = []
        for k in generator.choice(len(self.categories), size=n, p=self.category_probs):
            p = self.file_probs[k] / self.file_probs[k].sum()
            f = int(generator.choice(len(self.recordings), p=p))
            intervals = self.slots[k][f]
            lengths = np.array([b - a for a, b in intervals])
            u = generator.uniform(0.0, lengths.sum())
            i = min(int(np.searchsorted(np.cumsum(lengths), u, side="right")), len(intervals) - 1)
            start = intervals[i][0] + (u - (np.cumsum(lengths)[i] - lengths[i]))
            out.append((self.recordings[f], float(start)))
        return out


class _DrawDataset(torch.utils.data.Dataset):
    """Waveforms and frame labels of a precomputed list of draws (I/O only, no randomness)."""

    def __init__(self, draws: list[tuple[str, float]], folder: Path, events: pd.DataFrame, classes: list[str]) -> None:
        self.draws, self.folder = draws, folder
        # each recording's event arrays, taken from the table once rather than per draw
        self.events = {rec: event_arrays(g, classes) for rec, g in events.groupby("Audiofilename", sort=False)}

    def __len__(self) -> int:
        return len(self.draws)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        rec, start = self.draws[i]
        wave = load_clip(self.folder / rec, start)  # [320000]
        labels = clip_frame_labels(*self.events[rec], np.array([start]))[0]  # [32, C]
        return torch.from_numpy(wave), torch.from_numpy(labels)


# --------------------------------------------------------------------------- training


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train_encoder` leaves behind."""

    folder: Path
    history: list[dict[str, Any]]
    best_epoch: int
    best_map: float
    stop_reason: str
    class_names: list[str]

    @property
    def best_encoder(self) -> Path:
        return self.folder / ENCODER_FILE


def _autocast(device: torch.device, enabled: bool) -> Any:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _valid_features(loader, extractor, device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Standardised log-mels ``[B, 1001, 64]`` on ``device`` and labels ``[B, 32, C]`` per batch."""
    with torch.no_grad():
        for wave, y in loader:
            yield extractor(wave.to(device)), y


def _validate(encoder, head, batches, device, bf16) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid frame probabilities and labels ``[N, 32, C]`` on the SL valid split."""
    encoder.eval()
    head.eval()
    probs, labels = [], []
    with torch.no_grad():
        for feats, y in batches:
            feats = feats.unsqueeze(1)  # [B, 1, 1001, 64]
            with _autocast(device, bf16):
                logits = head(encoder(feats)["embedding"])  # [B, 32, C]
            probs.append(torch.sigmoid(logits.float()).cpu())
            labels.append(y)
    return torch.cat(probs).numpy(), torch.cat(labels).numpy()


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train_encoder(config: EncoderTrainingConfig, progress: bool = True) -> TrainingResult:
    """Train (or continue training) the encoder on ``DATA_ROOT/prepared/SL``; see the module doc.

    A finished training (stopped by the learning rate or at the epoch cap) is not redone;
    raising ``EPOCHS`` continues it. A checkpoint made with other settings is an error.
    """
    root = config.root
    prepared = prepared_dir(root)
    if not (prepared / "SL" / "train_label.csv").is_file():
        raise FileNotFoundError(f"no prepared SL data under {prepared}; run notebook 01 (bioal.data) first")
    folder = encoder_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt_path = folder / "checkpoint.pt"
    device = pick_device(config.device)
    if not ckpt_path.is_file():
        (folder / "inputs.json").unlink(missing_ok=True)  # nothing to resume: record the inputs afresh
    check_fingerprint(
        folder / "inputs.json",
        {"prepared SL": prepared_fingerprint(prepared, "SL")},
        f"the encoder training in {folder}",
        f"delete {folder} to train afresh on this data.",
    )

    stats = compute_mean_std(prepared, "SL", batch_size=config.encoder_batch_size, device=device, progress=progress)
    events, classes = read_split_labels(prepared, "SL", "train")
    train_clips = clip_table(prepared, "SL", "train")
    durations = dict(zip(train_clips["recording"], train_clips["duration_s"], strict=True))
    sampler = BalancedSampler(events, durations, classes)
    steps = config.encoder_steps_per_epoch or max(1, math.ceil(len(train_clips) / config.encoder_batch_size))
    valid = ClipDataset(prepared, "SL", "valid")
    if valid.class_names != classes:
        raise ValueError(f"{prepared}/SL: valid classes {valid.class_names} differ from train classes {classes}")
    valid_loader = torch.utils.data.DataLoader(valid, batch_size=config.encoder_batch_size, shuffle=False,
                                               num_workers=config.num_workers)

    if config.panns_checkpoint:
        panns = resolve_path(config.panns_checkpoint)
        if not panns.is_file():
            if panns.name != PANNS_FILENAME:
                raise FileNotFoundError(f"no PANNs checkpoint at {panns}")
            download_panns_checkpoint(panns.parent, progress=progress)
        encoder = Cnn14Encoder.from_panns(panns, seed=config.seed)
        head = MLPClassifier(len(classes), in_dim=encoder.embedding_dim, hidden=config.classifier_hidden,
                             panns_fc=read_panns_fc(panns))
    else:
        encoder = Cnn14Encoder(width=config.width, seed=config.seed)
        head = MLPClassifier(len(classes), in_dim=encoder.embedding_dim, hidden=config.classifier_hidden,
                             init_seed=config.seed)
    encoder, head = encoder.to(device), head.to(device)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=config.encoder_lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=5, threshold=1e-4, threshold_mode="rel", cooldown=0
    )
    history: list[dict[str, Any]] = []
    best_map, best_epoch, stop_reason = -1.0, -1, ""

    if ckpt_path.is_file():
        state = load_torch_file(ckpt_path, map_location=device, what=f"training checkpoint (delete {folder} to start over)")
        for part in ("encoder", "head"):
            check_tensors(state.get(part) if isinstance(state, dict) else state, f"{ckpt_path} [{part!r}]")
        diff = {k: (state["config"].get(k), v) for k, v in config.resume_key().items() if state["config"].get(k) != v}
        if diff:
            raise ValueError(
                f"{ckpt_path} was made with other settings {diff} (checkpoint, now); "
                f"delete {folder} or choose another DATA_ROOT to start over"
            )
        encoder.load_state_dict(state["encoder"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best_map, best_epoch = state["history"], state["best_map"], state["best_epoch"]
        stop_reason = state.get("stop_reason", "")

    train_extractor = LogMelExtractor().to(device)
    valid_extractor = LogMelExtractor(mean=stats.mean, std=stats.std).to(device)
    train_folder = prepared / "SL" / "train"
    valid_bytes = len(valid) * STFT_FRAMES * N_MELS * 4
    valid_cache = None  # the valid features of the first validation, when they fit

    def valid_batches() -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        nonlocal valid_cache
        if valid_cache is not None:
            return valid_cache
        if valid_bytes <= config.feature_cache_bytes:
            valid_cache = list(_valid_features(valid_loader, valid_extractor, device))
            return valid_cache
        return _valid_features(valid_loader, valid_extractor, device)

    def _write_history(reason: str) -> None:
        write_json(folder / "history.json", {
            "class_names": classes, "best_epoch": best_epoch, "best_map": best_map, "stop_reason": reason,
            "steps_per_epoch": steps, "mean": stats.mean, "std": stats.std, "config": config.to_dict(),
            "epochs": history,
        })

    if stop_reason == "lr" or (stop_reason and len(history) >= config.epochs):
        _write_history(stop_reason)
        return TrainingResult(folder, history, best_epoch, best_map, stop_reason, classes)

    stop_reason = ""
    for epoch in range(len(history), config.epochs):
        t0 = time.perf_counter()
        draws = sampler.draw(steps * config.encoder_batch_size, rng(config.seed, "sl-sampler", epoch))
        loader = torch.utils.data.DataLoader(
            _DrawDataset(draws, train_folder, events, classes),
            batch_size=config.encoder_batch_size, shuffle=False, num_workers=config.num_workers,
        )
        noise_gen = torch_generator(config.seed, "sl-noise", epoch)
        mask_gen = torch_generator(config.seed, "sl-freq-mask", epoch)
        encoder.set_dropout_generator(torch_generator(config.seed, "sl-dropout", epoch, device=device))
        encoder.train()
        head.train()
        losses = []
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for wave, labels in bar:
            wave = add_noise(wave, noise_gen)  # [B, 320000]
            feats = (train_extractor(wave.to(device)) - stats.mean) / stats.std  # [B, 1001, 64]
            if config.freq_mask:
                feats = freq_mask(feats, mask_gen)
            with _autocast(device, config.bf16):
                logits = head(encoder(feats.unsqueeze(1))["embedding"])  # [B, 32, C]
            loss = pos_weight_bce(logits.float(), labels.to(device))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"epoch {epoch + 1}: loss became {loss.item()} (draws {draws[:3]}...)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        encoder.set_dropout_generator(None)
        probs, labels = _validate(encoder, head, valid_batches(), device, config.bf16)
        ap = class_average_precision(probs, labels)
        threshold, f1 = optimal_threshold(probs, labels)
        valid_map = float(np.mean(ap))
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(valid_map)
        improved = valid_map > best_map
        if improved:
            best_map, best_epoch = valid_map, epoch
            with atomic_path(folder / ENCODER_FILE) as tmp:
                torch.save({k: v.cpu() for k, v in encoder.encoder_state_dict().items()}, tmp)
        history.append({
            "epoch": epoch + 1, "loss": float(np.mean(losses)), "valid_map": valid_map,
            "valid_f1": float(np.mean(f1)), "threshold": threshold, "lr": lr,
            "seconds": time.perf_counter() - t0, "valid_ap": ap.tolist(), "improved": improved,
        })
        new_lr = optimizer.param_groups[0]["lr"]
        if new_lr < config.min_lr:
            stop_reason = "lr"
        elif epoch + 1 >= config.epochs:
            stop_reason = "epochs"
        _save_checkpoint(ckpt_path, {
            "encoder": encoder.state_dict(), "head": head.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "history": history, "best_map": best_map,
            "best_epoch": best_epoch, "stop_reason": stop_reason, "config": config.to_dict(),
            "class_names": classes, "rng": {"seed": config.seed, "next_epoch": epoch + 1},
        })
        _write_history(stop_reason)
        if progress:
            print(f"epoch {epoch + 1}: loss {history[-1]['loss']:.4f}  valid mAP {valid_map:.4f}  lr {lr:.2e}")
        if stop_reason:
            break
    return TrainingResult(folder, history, best_epoch, best_map, stop_reason, classes)


def describe_init(config: EncoderTrainingConfig) -> str:
    """One sentence on where the encoder's starting weights come from (for the notebook)."""
    if config.panns_checkpoint:
        return (f"Encoder initialised from the PANNs AudioSet checkpoint {config.panns_checkpoint} (72 conv-block "
                f"tensors, strict load); the SL head from the bilinear resize of its fc1/fc_audioset (method §5.1).")
    return (f"No PANNs checkpoint: the encoder (width {config.width}) starts from a seeded Xavier-uniform init "
            f"(seed {config.seed}) and the SL head from a seeded uniform init, so training starts from scratch "
            f"rather than from AudioSet weights as in the paper.")


def load_history(data_root: str | os.PathLike) -> dict[str, Any]:
    """``DATA_ROOT/models/encoder/history.json`` (a clear error if training has not run)."""
    path = encoder_dir(resolve_path(data_root)) / "history.json"
    if not path.is_file():
        raise FileNotFoundError(f"no training history at {path}; run bioal.training.train_encoder first")
    return read_json(path)
