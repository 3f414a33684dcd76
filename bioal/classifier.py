"""The per-frame MLP classifier and its per-round training (method §5).

* :class:`MLPClassifier` - Linear(D -> H) -> ReLU -> Linear(H -> C) applied to every frame,
  ``[B, T, D] -> [B, T, C]`` logits. At the paper's sizes (D=2048, H=1024, C=7) it has
  2,105,351 parameters.
* Deterministic initialisation, identical every time it is built: with a PANNs
  ``Cnn14_DecisionLevelMax`` checkpoint, the bilinear ``align_corners=True`` resize of its
  ``fc1`` / ``fc_audioset`` tensors (method §5.1); without one, a seeded uniform init
  (PyTorch's default ``Linear`` bounds ``1/sqrt(fan_in)``) drawn from a generator. Optionally
  (``output_prior`` p > 0, not the paper's) the output biases then start at ``log(p / (1 - p))``,
  so that a fresh head gives every class a probability near p instead of near 0.5.
* :func:`pos_weight_bce` - the per-batch ``pos_weight`` BCE of method §5.2.
* :func:`train_classifier` - one AL round: a fresh model from the same init, batch 128
  shuffled by a seeded generator, Adam 5e-4, ReduceLROnPlateau on the valid cmAP, stop when
  the learning rate falls below 5e-6, best state by strict improvement. All tensors stay on
  the device for the whole training (no DataLoader workers, no re-reading files).
* :func:`predict_probs`, :func:`evaluate` - batched inference, valid threshold, test F1/AP.

Resizing for other sizes: the PANNs tensors are ``fc1.weight [2048, 2048]``,
``fc1.bias [2048]``, ``fc_audioset.weight [527, 2048]``, ``fc_audioset.bias [527]``. Each is
treated as a ``1 x 1 x H x W`` image (biases ``1 x 1 x 1 x L``) and resized bilinearly with
``align_corners=True`` to the target shape ``fc1.weight [hidden, in_dim]``,
``fc2.weight [C, hidden]``. At the paper's ``in_dim = 2048`` the columns of ``fc1`` are left
unchanged (the resize is the identity along that axis); with a narrower encoder
(``in_dim != 2048``) the columns are resampled the same way as the rows.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from bioal.config import Config, ConfigError
from bioal.encoder import verify_if_panns_checkpoint
from bioal.metrics import class_average_precision, f1_per_class, optimal_threshold
from bioal.utils import check_tensors, load_torch_file, resolve_path, torch_generator

__all__ = [
    "MLPClassifier",
    "PANNS_FC_KEYS",
    "read_panns_fc",
    "resize_panns_fc",
    "pos_weight_bce",
    "ClassifierConfig",
    "TrainedClassifier",
    "train_classifier",
    "predict_probs",
    "evaluate",
    "Evaluation",
    "build_classifier",
    "FeatureScaler",
]

PANNS_FC_KEYS = {
    "fc1.weight": (2048, 2048),
    "fc1.bias": (2048,),
    "fc_audioset.weight": (527, 2048),
    "fc_audioset.bias": (527,),
}


class MLPClassifier(nn.Module):
    """Per-frame MLP head: ``[B, T, in_dim] -> [B, T, n_classes]`` logits.

    ``init_seed`` fixes the random init; ``panns_fc`` (the four PANNs fc tensors, see
    :func:`read_panns_fc`) replaces it by the paper's deterministic resize. ``output_prior``
    p in (0, 1) then sets every output bias to ``log(p / (1 - p))``; 0 keeps the init's biases.
    """

    def __init__(
        self,
        n_classes: int,
        in_dim: int = 2048,
        hidden: int = 1024,
        init_seed: int = 0,
        panns_fc: Mapping[str, torch.Tensor] | None = None,
        output_prior: float = 0.0,
    ) -> None:
        super().__init__()
        if n_classes < 1 or in_dim < 1 or hidden < 1:
            raise ValueError(f"n_classes, in_dim, hidden must be >= 1, got {n_classes}, {in_dim}, {hidden}")
        if not 0 <= output_prior < 1:
            raise ValueError(f"output_prior must be in [0, 1), got {output_prior}")
        self.n_classes, self.in_dim, self.hidden = n_classes, in_dim, hidden
        self.output_prior = output_prior
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)
        self.reset_parameters(init_seed, panns_fc)

    @torch.no_grad()
    def reset_parameters(self, init_seed: int = 0, panns_fc: Mapping[str, torch.Tensor] | None = None) -> None:
        """Set the deterministic init (PANNs resize if ``panns_fc`` is given, else seeded), then
        the output biases from ``output_prior`` when it is > 0."""
        if panns_fc is not None:
            for name, tensor in resize_panns_fc(panns_fc, self.n_classes, self.in_dim, self.hidden).items():
                dict(self.named_parameters())[name].copy_(tensor)
        else:
            gen = torch_generator(init_seed, "classifier-init")
            for layer in (self.fc1, self.fc2):
                bound = 1.0 / math.sqrt(layer.in_features)
                w = torch.rand(layer.weight.shape, generator=gen, dtype=torch.float32) * (2 * bound) - bound
                b = torch.rand(layer.bias.shape, generator=gen, dtype=torch.float32) * (2 * bound) - bound
                layer.weight.copy_(w)
                layer.bias.copy_(b)
        if self.output_prior > 0:
            self.fc2.bias.fill_(math.log(self.output_prior / (1 - self.output_prior)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(x))  # [B, T, H]
        return self.fc2(h)  # [B, T, C]


def read_panns_fc(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The four fc tensors of a PANNs ``Cnn14_DecisionLevelMax`` checkpoint.

    Opens it with ``torch.load(weights_only=True)['model']``; missing or mis-shaped keys raise
    ``KeyError`` / ``ValueError`` listing them and naming the file. A file with the checkpoint's
    name is md5-checked first (:func:`bioal.encoder.verify_if_panns_checkpoint`).
    """
    verify_if_panns_checkpoint(path)
    state = load_torch_file(path, what="PANNs checkpoint")
    if not isinstance(state, Mapping) or "model" not in state:
        raise KeyError(f"{path}: not a PANNs checkpoint (no 'model' entry)")
    model = state["model"]
    missing = [k for k in PANNS_FC_KEYS if k not in model]
    if missing:
        raise KeyError(f"{path}: missing keys {missing}")
    check_tensors({k: model[k] for k in PANNS_FC_KEYS}, str(path))
    bad = [f"{k} {tuple(model[k].shape)} != {v}" for k, v in PANNS_FC_KEYS.items() if tuple(model[k].shape) != v]
    if bad:
        raise ValueError(f"{path}: mis-shaped keys {bad}")
    return {k: model[k].detach().float().clone() for k in PANNS_FC_KEYS}


def _resize(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    if tuple(t.shape) == tuple(shape):
        return t.clone()
    image = t.reshape(1, 1, *(t.shape if t.ndim == 2 else (1, t.shape[0])))
    size = shape if len(shape) == 2 else (1, shape[0])
    out = F.interpolate(image.float(), size=size, mode="bilinear", align_corners=True)
    return out.reshape(shape)


def resize_panns_fc(
    panns_fc: Mapping[str, torch.Tensor], n_classes: int, in_dim: int = 2048, hidden: int = 1024
) -> dict[str, torch.Tensor]:
    """The classifier's ``fc1``/``fc2`` tensors from the PANNs fc tensors (method §5.1).

    Bilinear, ``align_corners=True``, each tensor as a one-channel image; see the module
    docstring for how the columns are treated when ``in_dim != 2048``.
    """
    return {
        "fc1.weight": _resize(panns_fc["fc1.weight"], (hidden, in_dim)),
        "fc1.bias": _resize(panns_fc["fc1.bias"], (hidden,)),
        "fc2.weight": _resize(panns_fc["fc_audioset.weight"], (n_classes, hidden)),
        "fc2.bias": _resize(panns_fc["fc_audioset.bias"], (n_classes,)),
    }


def pos_weight_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits with the per-batch ``pos_weight`` of method §5.2.

    ``logits``/``labels`` ``[B, T, C]`` (or ``[M, C]``); frames are flattened and
    ``pos_weight_c = (#frames - #pos_c) / (#pos_c + 1e-5)``.
    """
    c = logits.shape[-1]
    flat_y = labels.reshape(-1, c).to(logits.dtype)
    n_pos = flat_y.sum(dim=0)
    pos_weight = (flat_y.shape[0] - n_pos) / (n_pos + 1e-5)
    return F.binary_cross_entropy_with_logits(logits.reshape(-1, c), flat_y, pos_weight=pos_weight)


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(Config):
    """Per-round classifier training (defaults: the paper, method §5.2)."""

    hidden: int = 1024
    max_epochs: int = 5000
    batch_size: int = 128
    lr: float = 5e-4
    min_lr: float = 5e-6
    lr_factor: float = 0.5
    patience: int = 5
    plateau_threshold: float = 1e-4
    threshold_levels: int = 3
    predict_batch_size: int = 4096
    init_seed: int = 0
    panns_checkpoint: str = ""
    # not the paper's: start the output biases at log(p / (1 - p)) (0 = the init's own biases)
    prior: float = 0.0

    def check(self) -> None:
        for name in ("hidden", "max_epochs", "batch_size", "patience", "threshold_levels", "predict_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr_factor < 1:
            raise ConfigError(f"LR_FACTOR must be in (0, 1), got {self.lr_factor}")
        if not (0 < self.lr < math.inf):
            raise ConfigError(f"CLASSIFIER_LR must be a finite number > 0, got {self.lr}")
        if not (0 <= self.min_lr <= self.lr):
            raise ConfigError(f"MIN_LR must be in [0, CLASSIFIER_LR] = [0, {self.lr}], got {self.min_lr}")
        if not 0 <= self.prior < 1:
            raise ConfigError(f"CLASSIFIER_PRIOR must be in [0, 1) (0 = off), got {self.prior}")
        if not (0 <= self.plateau_threshold < math.inf):
            raise ConfigError(f"PLATEAU_THRESHOLD must be a finite number >= 0, got {self.plateau_threshold}")
        if self.init_seed < 0:
            raise ConfigError(f"CLASSIFIER_INIT_SEED must be >= 0, got {self.init_seed}")


@dataclasses.dataclass(frozen=True)
class FeatureScaler:
    """Per-dimension z-scoring of frame embeddings, ``(x - mean) / std`` (``mean``/``std`` ``[D]``).

    Not in the paper: an option (``ExperimentConfig.standardize_features``) for encoders whose
    features barely vary around a large offset, such as the CPU demo's briefly trained one.
    Statistics come from the unlabelled pool (features only, no labels); a constant
    dimension (std 0) is only centred.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, embeddings: Any, chunk: int = 4096) -> FeatureScaler:
        """Mean and (population) std per dimension over all frames of ``embeddings [N, T, D]``, in float64 chunks."""
        x = embeddings
        if x.ndim != 3 or len(x) == 0:
            raise ValueError(f"FeatureScaler.fit needs non-empty [N, T, D] embeddings, got shape {tuple(x.shape)}")
        total = np.zeros(x.shape[2])
        squares = np.zeros(x.shape[2])
        for s in range(0, len(x), chunk):
            block = np.asarray(x[s : s + chunk], dtype=np.float64).reshape(-1, x.shape[2])
            total += block.sum(axis=0)
            squares += np.square(block).sum(axis=0)
        count = x.shape[0] * x.shape[1]
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        std[std < 1e-12] = 1.0
        return cls(mean=mean.astype(np.float32), std=std.astype(np.float32))

    def transform(self, embeddings: Any, chunk: int = 4096) -> np.ndarray:
        """``[N, T, D]`` float32, standardised (a new array; the input is not changed)."""
        out = np.empty(embeddings.shape, dtype=np.float32)
        for s in range(0, len(embeddings), chunk):
            out[s : s + chunk] = (np.asarray(embeddings[s : s + chunk], dtype=np.float32) - self.mean) / self.std
        return out


@dataclasses.dataclass
class TrainedClassifier:
    """The best-valid model of one training, with its per-epoch history.

    ``history``: list of ``{"loss", "valid_cmap", "lr"}`` per epoch (``lr`` in effect
    during that epoch); ``valid_ap`` [C] is the per-class valid AP of the best state.
    """

    model: MLPClassifier
    history: list[dict[str, float]]
    best_epoch: int
    valid_ap: np.ndarray

    @property
    def epochs(self) -> int:
        return len(self.history)


def _as_tensor(x: Any, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    return t.to(device=device, dtype=dtype)


_PANNS_CACHE: dict[tuple[str, float], dict[str, torch.Tensor]] = {}


def _cached_panns_fc(path: str) -> dict[str, torch.Tensor]:
    """:func:`read_panns_fc`, read once per file version (the checkpoint is 327 MB)."""
    resolved = resolve_path(path)
    if not resolved.is_file():
        raise FileNotFoundError(
            f"PANNs checkpoint {resolved} does not exist (set PANNS_CHECKPOINT to '' for a seeded init)"
        )
    key = (str(resolved), resolved.stat().st_mtime)
    if key not in _PANNS_CACHE:
        _PANNS_CACHE.clear()
        _PANNS_CACHE[key] = read_panns_fc(resolved)
    return _PANNS_CACHE[key]


def build_classifier(config: ClassifierConfig, n_classes: int, in_dim: int) -> MLPClassifier:
    """A fresh classifier with the config's deterministic init."""
    panns = _cached_panns_fc(config.panns_checkpoint) if config.panns_checkpoint else None
    return MLPClassifier(
        n_classes, in_dim=in_dim, hidden=config.hidden, init_seed=config.init_seed, panns_fc=panns,
        output_prior=config.prior,
    )


@torch.no_grad()
def predict_probs(
    model: nn.Module, x: Any, batch_size: int = 4096, device: Any = None, reduce: str | None = None
) -> torch.Tensor:
    """Sigmoid probabilities ``[N, T, C]`` for embeddings ``[N, T, D]`` (in batches of clips).

    ``reduce="max"`` returns the clip-level ``[N, C]`` max over frames instead (less memory).
    The result is on ``device`` (default: the model's device).
    """
    model.eval()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    outs = []
    for start in range(0, len(x), batch_size):
        xb = _as_tensor(x[start : start + batch_size], device)
        p = torch.sigmoid(model(xb))
        outs.append(p.amax(dim=1) if reduce == "max" else p)
    if not outs:
        c = model.fc2.out_features
        return torch.zeros((0, c) if reduce == "max" else (0, x.shape[1], c), device=device)
    return torch.cat(outs)


def _check_valid(vx: torch.Tensor, vy: np.ndarray, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    """Check ``valid_x [V, T, D]`` and ``valid_y [V, T, C]`` against each other and train's D and C."""
    if vx.ndim != 3 or vx.shape[2] != x_shape[2]:
        raise ValueError(f"valid_x: expected [V, T, D] with D = {x_shape[2]} (as train_x), got {tuple(vx.shape)}")
    if vy.shape != (*vx.shape[:2], y_shape[2]):
        raise ValueError(
            f"valid_y: expected [V, T, C] = {(*vx.shape[:2], y_shape[2])} (V, T of valid_x, C of train_y), got {vy.shape}"
        )
    if len(vx) == 0:
        raise ValueError("valid_x: the valid split has no clips; the per-epoch valid AP needs some")
    finite = torch.isfinite(vx).flatten(1).all(1)
    if not bool(finite.all()):
        raise ValueError(f"valid_x: clip {int((~finite).nonzero()[0])} has NaN/inf features")


def train_classifier(
    train_x: Any,
    train_y: Any,
    valid_x: Any,
    valid_y: Any,
    config: ClassifierConfig,
    seed: int,
    device: Any = "cpu",
    progress: bool = False,
    keys: tuple[int | str, ...] = (),
) -> TrainedClassifier:
    """Train a fresh classifier on ``train_x [L, T, D]`` / ``train_y [L, T, C]`` (method §5.2).

    Shuffling draws from ``torch_generator(seed, "classifier-shuffle", *keys)``; the model
    init is the config's deterministic init. Each epoch: the batches, then valid
    probabilities on all valid frames, per-class AP; the state is kept when the mean AP
    improves strictly (best starts at 0); the plateau scheduler steps on the mean AP;
    training stops when the lr falls below ``min_lr`` or after ``max_epochs``.
    """
    device = torch.device(device)
    x = _as_tensor(train_x, device)
    y = _as_tensor(train_y, device)
    vx = valid_x if isinstance(valid_x, torch.Tensor) and valid_x.device == device else _as_tensor(valid_x, device)
    vy = valid_y.detach().cpu().numpy() if isinstance(valid_y, torch.Tensor) else np.asarray(valid_y)
    if x.ndim != 3 or y.shape[:2] != x.shape[:2]:
        raise ValueError(f"train_x [L, T, D] and train_y [L, T, C] do not match: {tuple(x.shape)}, {tuple(y.shape)}")
    if len(x) == 0:
        raise ValueError("train_classifier needs at least one labelled clip")
    _check_valid(vx, vy, tuple(x.shape), tuple(y.shape))
    for what, labels in (("train_y", y.detach().cpu().numpy()), ("valid_y", vy)):
        odd = ~np.isin(labels, (0.0, 1.0)).reshape(len(labels), -1).all(axis=1)
        if odd.any():
            raise ValueError(
                f"{what}: clip {int(np.flatnonzero(odd)[0])} has labels {np.unique(labels[odd][0]).tolist()}; "
                "expected 0 or 1 only (map -1/UNK codes before training)"
            )
    if not torch.isfinite(x).all():
        raise ValueError(f"train_x: clip {int((~torch.isfinite(x)).flatten(1).any(1).nonzero()[0])} has NaN/inf features")
    model = build_classifier(config, y.shape[-1], x.shape[-1]).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser,
        mode="max",
        factor=config.lr_factor,
        patience=config.patience,
        threshold=config.plateau_threshold,
        threshold_mode="rel",
        cooldown=0,
    )
    gen = torch_generator(seed, "classifier-shuffle", *keys)
    best_state = copy.deepcopy(model.state_dict())
    best_mean, best_epoch, best_ap = 0.0, 0, np.zeros(y.shape[-1])
    history: list[dict[str, float]] = []
    bar = tqdm(range(config.max_epochs), desc="classifier", disable=not progress, leave=False)
    for epoch in bar:
        lr = optimiser.param_groups[0]["lr"]
        model.train()
        order = torch.randperm(len(x), generator=gen).to(device)
        total, count = 0.0, 0
        for start in range(0, len(x), config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = pos_weight_bce(model(x[idx]), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        probs = predict_probs(model, vx, batch_size=config.predict_batch_size, device=device)
        ap = class_average_precision(probs, vy)
        mean_ap = float(ap.mean())
        history.append({"loss": total / count, "valid_cmap": mean_ap, "lr": lr})
        if mean_ap > best_mean:
            best_mean, best_epoch, best_ap = mean_ap, epoch + 1, ap
            best_state = copy.deepcopy(model.state_dict())
        scheduler.step(mean_ap)
        bar.set_postfix(loss=f"{total / count:.4f}", cmap=f"{mean_ap:.4f}", lr=f"{lr:.1e}")
        if optimiser.param_groups[0]["lr"] < config.min_lr:
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainedClassifier(model=model, history=history, best_epoch=best_epoch, valid_ap=np.asarray(best_ap))


@dataclasses.dataclass
class Evaluation:
    """Valid threshold and per-class valid/test F1 and AP (fractions 0..1)."""

    threshold: float
    valid_f1: np.ndarray
    valid_ap: np.ndarray
    test_f1: np.ndarray
    test_ap: np.ndarray
    seconds: float = 0.0
    test_probs: np.ndarray | None = None  # [N_test, T, C] frame probabilities (for event scores)


def evaluate(
    model: nn.Module,
    valid_x: Any,
    valid_y: Any,
    test_x: Any,
    test_y: Any,
    levels: int = 3,
    batch_size: int = 4096,
    device: Any = None,
) -> Evaluation:
    """Optimal threshold on valid (method §6.2), then F1 at it and AP on valid and test.

    The result keeps the test frame probabilities ``[N_test, T, C]`` for event scoring.
    """
    start = time.perf_counter()
    valid_p = predict_probs(model, valid_x, batch_size, device)
    threshold, valid_f1 = optimal_threshold(valid_p, valid_y, levels)
    valid_ap = class_average_precision(valid_p, valid_y)
    test_p = predict_probs(model, test_x, batch_size, device)
    return Evaluation(
        threshold=threshold,
        valid_f1=valid_f1,
        valid_ap=valid_ap,
        test_f1=f1_per_class(test_p, test_y, threshold),
        test_ap=class_average_precision(test_p, test_y),
        seconds=time.perf_counter() - start,
        test_probs=test_p.detach().cpu().numpy(),
    )
