"""Log-mel front end on the CPU: clips/s for a batch taken in slices of 1, 2, 4, 8 or all clips.

    .venv/bin/python benchmarks/bench_frontend.py [--batch 32] [--seconds 10]

``LogMelExtractor`` takes a CPU batch ``CPU_SLICE`` waveforms at a time. This script times
one batch of 10 s clips ``[B, 320000]`` at each slice size and reports the largest absolute
difference from the whole-batch numbers (dB), so the choice of ``CPU_SLICE`` can be checked
on a new machine.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bioal.features import CLIP_SAMPLES, LogMelExtractor
from bioal.utils import torch_generator


def time_slices(batch: int, slices: list[int], seconds: float) -> list[dict]:
    """One row per slice size: ``{"slice", "clips_per_s", "max_abs_diff_db"}``."""
    waves = 0.1 * torch.randn(batch, CLIP_SAMPLES, generator=torch_generator(0, "bench-frontend"))  # [B, L]
    extractor = LogMelExtractor()
    rows, reference = [], None
    for size in [batch, *[s for s in slices if s != batch]]:
        extractor.CPU_SLICE = size  # instance attribute: this extractor only
        with torch.no_grad():
            out = extractor(waves)  # warm-up, and the numbers to compare
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                extractor(waves)
                n += 1
        elapsed = time.perf_counter() - t0
        reference = out if reference is None else reference
        rows.append({
            "slice": size,
            "clips_per_s": round(n * batch / elapsed, 1),
            "max_abs_diff_db": float((out - reference).abs().max()),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="clips per batch (the demo's ENCODER_BATCH_SIZE)")
    parser.add_argument("--slices", type=int, nargs="+", default=[1, 2, 4, 8], help="slice sizes to time")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per slice size")
    args = parser.parse_args()
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "batch": args.batch,
    }))
    for row in time_slices(args.batch, args.slices, args.seconds):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
