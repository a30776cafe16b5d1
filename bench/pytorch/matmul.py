"""PyTorch twin of bench/matmul_speed.ts: torch.matmul GFLOP/s on square float32 and float64
matrices, with 1 and 2 threads: 2·n³ / the median (`gflops`) and the best (`gflops_best`) time
of `reps` products, after a warm-up of 100 ms (3 to 50 products).

    python3 bench/pytorch/matmul.py [--sizes 64,128,256,512] [--reps 15]

Prints one line of JSON, or {"skipped": reason} when torch cannot be imported.
"""
import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--sizes", default="64,128,256,512")
parser.add_argument("--reps", type=int, default=15)
args = parser.parse_args()

try:
    import torch
except ImportError as error:
    print(json.dumps({"bench": "matmul", "engine": "pytorch", "skipped": str(error)}))
    raise SystemExit(0)


def median_ms(run, reps, name, n):
    warm_up_end = time.perf_counter() + 0.1
    count = 0
    while count < 3 or (count < 50 and time.perf_counter() < warm_up_end):
        run()
        count += 1
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    best_row[name] = 2 * n**3 / times[0] / 1e6
    return times[len(times) // 2]


results = {}
best = {}
for n in [int(s) for s in args.sizes.split(",")]:
    row = {}
    best_row = best[str(n)] = {}
    for dtype, name in [(torch.float32, "f32"), (torch.float64, "f64")]:
        generator = torch.Generator().manual_seed(n)
        a = torch.rand(n, n, dtype=dtype, generator=generator) * 2 - 1
        b = torch.rand(n, n, dtype=dtype, generator=generator) * 2 - 1
        out = torch.empty(n, n, dtype=dtype)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            key = f"torch_{name}_{threads}t"
            ms = median_ms(lambda: torch.matmul(a, b, out=out), args.reps, key, n)
            row[key] = 2 * n**3 / ms / 1e6
    results[str(n)] = row

print(json.dumps({
    "bench": "matmul",
    "engine": f"pytorch {torch.__version__}",
    "reps": args.reps,
    "gflops": results,
    "gflops_best": best,
}))
