"""Embedding throughput of the frozen encoder (log-mel front end + Cnn14Encoder), clips/s.

    .venv/bin/python benchmarks/bench_encoder.py                 # CPU: the paper's and the demo's widths, fp32 and bf16
    .venv/bin/python benchmarks/bench_encoder.py --device cuda --batch 32 256

Each (width, dtype, batch) runs in its own subprocess so that the peak memory reported
(max RSS on CPU, ``torch.cuda.max_memory_allocated`` on GPU) belongs to that setting alone.
On a GPU the script also measures the bf16/fp32 matmul rate and reports the ratio of the
measured time per clip to the floor set by 40.5 GFLOP per clip (method §3.1) at that rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GFLOP_PER_CLIP = 40.5  # width 1 (method §3.1); scales roughly with width^2


def _matmul_tflops(device, dtype) -> float:
    import torch

    n = 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def run_one(width: float, bf16: bool, batch: int, device: str, seconds: float) -> dict:
    import torch

    from bioal.embeddings import embed_clips
    from bioal.encoder import Cnn14Encoder
    from bioal.utils import torch_generator

    dev = torch.device(device)
    encoder = Cnn14Encoder(width=width, seed=0).eval().to(dev)
    waves = (0.1 * torch.randn(batch, 320000, generator=torch_generator(0, "bench"))).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    embed_clips(encoder, waves, -40.0, 15.0, bf16=bf16)  # warm-up
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    n, t0 = 0, time.perf_counter()
    while True:
        embed_clips(encoder, waves, -40.0, 15.0, bf16=bf16)
        sync()
        n += batch
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 2 * batch:
            break
    out = {
        "width": width, "dtype": "bf16" if bf16 else "fp32", "batch": batch, "device": device,
        "threads": torch.get_num_threads(), "clips": n, "seconds": elapsed, "clips_per_s": n / elapsed,
    }
    if dev.type == "cuda":
        out["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        out["gpu"] = torch.cuda.get_device_name()
        rate = _matmul_tflops(dev, torch.bfloat16 if bf16 else torch.float32)
        out["matmul_tflops"] = rate
        floor = GFLOP_PER_CLIP * width**2 / (rate * 1e3)  # seconds per clip at the matmul rate
        out["ratio_to_floor"] = (elapsed / n) / floor
    else:
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--widths", type=float, nargs="+", default=None,
                        help="default: WIDTH of the paper and demo presets")
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="default: 8 on CPU, 32 and 256 on GPU")
    parser.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per setting")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(run_one(**spec)))
        return
    batches = args.batch or ([8] if args.device == "cpu" else [32, 256])
    if args.widths is None:
        from bioal.config import load_preset

        args.widths = [float(load_preset(name)["WIDTH"]) for name in ("paper", "demo")]
    rows = []
    for width in args.widths:
        for bf16 in (False, True):
            for batch in batches:
                spec = {"width": width, "bf16": bf16, "batch": batch, "device": args.device, "seconds": args.seconds}
                proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True,
                                      text=True, env={**os.environ}, check=False)
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    raise SystemExit(f"setting {spec} failed")
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| width | dtype | batch | clips/s | peak memory (GiB) |" + (" ratio to floor |" if args.device != "cpu" else ""))
    print("|---|---|---|---|---|" + ("---|" if args.device != "cpu" else ""))
    for r in rows:
        mem = r.get("peak_mem_gib", r.get("peak_rss_gib"))
        extra = f" {r['ratio_to_floor']:.2f} |" if "ratio_to_floor" in r else ""
        print(f"| {r['width']} | {r['dtype']} | {r['batch']} | {r['clips_per_s']:.2f} | {mem:.2f} |{extra}")


if __name__ == "__main__":
    main()
