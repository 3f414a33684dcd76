"""Static figures of the book's own pages (``make book-assets``), generated, never hand-made.

``mfft_toy.png`` (introduction): one MFFT round on a 2-D toy pool, drawn beside one
farthest-first round. The pool has three common call types and one rare one; a few clips
are labelled, a stand-in classifier tags the rest, and each unlabelled clip's mismatch level
is the number of tags on which that prediction disagrees with its nearest labelled clip.
MFFT takes the highest-mismatch clips first and spreads out inside the level that
overflows the budget; FT only spreads out. Selections come from ``bioal.strategies``.

    python tools/book_figures.py [--out _offline/figures]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bioal.utils import atomic_path, rng

SEED = 0
CLASS_NAMES = ("call A", "call B", "call C", "rare call")
COLOURS = ("#4C72B0", "#55A868", "#8172B2", "#C44E52")


def toy_pool(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D pool: ``points [N, 2]`` (angles on the positive quadrant, so cosine distance
    separates them) and ``tags [N, 4]`` bool (one call type per clip, a few rare ones)."""
    gen = rng(seed, "book", "toy-pool")
    centres = np.deg2rad([12.0, 40.0, 70.0, 55.0])
    sizes = (90, 80, 90, 8)
    angles, tags = [], []
    for c, (centre, size) in enumerate(zip(centres, sizes, strict=False)):
        spread = 0.05 if c == 3 else 0.08
        angles.append(gen.normal(centre, spread, size))
        tag = np.zeros((size, len(sizes)), dtype=bool)
        tag[:, c] = True
        tags.append(tag)
    theta = np.clip(np.concatenate(angles), 0.01, np.pi / 2 - 0.01)
    radius = gen.uniform(0.6, 1.0, theta.size)
    points = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    return points, np.concatenate(tags)


def toy_round(seed: int = SEED, k: int = 12):
    """Labelled set, a stand-in classifier's predicted tags, and the MFFT and FT picks of one round."""
    from bioal import strategies

    points, tags = toy_pool(seed)
    gen = rng(seed, "book", "toy-labelled")
    labelled = np.zeros(len(points), dtype=bool)
    for c in range(3):  # a few labelled clips of the common call types, none of the rare one
        labelled[gen.choice(np.flatnonzero(tags[:, c]), size=2, replace=False)] = True
    # A stand-in classifier that knows the common calls (wrong on 3 % of clips) and tags
    # the rare call, which it has never seen, as call A.
    pred = tags.copy()
    pred[tags[:, 3]] = np.array([True, False, False, False])
    flip = gen.random(len(points)) < 0.03
    pred[flip] = np.roll(pred[flip], 1, axis=1)
    candidates = np.flatnonzero(~labelled)
    mismatch = strategies.mismatch_levels(
        points, np.flatnonzero(labelled), tags[labelled], candidates, pred[candidates]
    )
    mfft = strategies.select(
        "mfft", embeddings=points, labeled=labelled, k=k, rng=rng(seed, "book", "mfft"),
        clip_labels=tags, clip_pred=pred,
    )
    ft = strategies.select("ft", embeddings=points, labeled=labelled, k=k, rng=rng(seed, "book", "ft"))
    return points, tags, labelled, candidates, mismatch, mfft, ft


def draw(path: Path, seed: int = SEED) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, tags, labelled, candidates, mismatch, mfft, ft = toy_round(seed)
    cls = tags.argmax(axis=1)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.4), sharex=True, sharey=True, constrained_layout=True)
    for ax, picks, title in (
        (axes[0], ft, "Farthest-first (FT): spread out"),
        (axes[1], mfft, "MFFT: mismatch first, then spread out"),
    ):
        if ax is axes[1]:
            sizes = 12 + 30 * mismatch
            ax.scatter(*points[candidates].T, s=sizes, c="0.75", edgecolors="none", label="unlabelled (size = mismatch)")
        else:
            ax.scatter(*points[candidates].T, s=14, c="0.75", edgecolors="none", label="unlabelled")
        for c, name in enumerate(CLASS_NAMES):
            sel = labelled & (cls == c)
            if sel.any():
                ax.scatter(*points[sel].T, s=70, marker="s", c=COLOURS[c], edgecolors="k", label=f"labelled: {name}")
        ax.scatter(*points[picks].T, s=110, facecolors="none", edgecolors="k", linewidths=1.6, label="picked this round")
        rare_found = int(tags[picks, 3].sum())
        ax.set_title(f"{title}\n{rare_found} of {int(tags[:, 3].sum())} rare calls picked", fontsize=10)
        ax.set_xlabel("embedding dim 1")
        ax.set_aspect("equal")
    rare = tags[:, 3]
    for ax in axes:
        ax.scatter(*points[rare].T, s=16, c=COLOURS[3], marker="^", label="rare call (hidden tag)")
    axes[0].set_ylabel("embedding dim 2")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--out", type=Path, default=root / "_offline" / "figures", help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    path = draw(args.out / "mfft_toy.png", seed=args.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
