#!/usr/bin/env python3
"""Load test of `cellvia serve` (issue 15): CLIENTS threads submit RUNS runs
of the sample images over HTTP, then every run is polled to its end.

Prints p50/p99 submit latency, lost and duplicated runs, the service's
images/s against the CLI on the same work (one `cellvia analyze` per run,
one after another), and the server's resident memory idle and after the
load. Standard library only; starts and stops the server itself.

    python3 scripts/serve-load.py [--runs 100] [--clients 20] [--workers 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(REPO, "target", "release", "cellvia")
TOKEN = "load-test-token-0123456789"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, json.loads(response.read() or b"null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--inputs", default="sample-images")
    args = parser.parse_args()
    inputs = os.path.join(REPO, args.inputs)
    images = sum(
        1
        for d, _, files in os.walk(inputs)
        for f in files
        if f.lower().endswith((".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"))
    )
    work = tempfile.mkdtemp(prefix="cellvia-load-")
    with open(os.path.join(work, "tokens"), "w") as f:
        f.write(f"load {TOKEN}\n")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    server = subprocess.Popen(
        [BINARY, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(work, "data"),
         "--root", inputs, "--token-file", os.path.join(work, "tokens"),
         "--workers", str(args.workers), "--threads", str(threads),
         "--max-queue", str(args.runs)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = server.stdout.readline().strip().removeprefix("cellvia: listening on ")
    time.sleep(1)
    idle_before = rss_mib(server.pid)

    latencies, ids, errors = [], [], []
    lock = threading.Lock()
    per_client = [args.runs // args.clients + (i < args.runs % args.clients) for i in range(args.clients)]

    def client(n):
        for _ in range(n):
            started = time.perf_counter()
            try:
                status, body = call(base, "POST", "/v1/runs", {"inputs": ["."]})
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with lock:
                    errors.append(str(e))
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                ids.append(body["id"]) if status == 202 else errors.append(status)

    t0 = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n,)) for n in per_client]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    states = {}
    for run_id in ids:
        while True:
            _, run = call(base, "GET", f"/v1/runs/{run_id}")
            if run["state"] not in ("queued", "running"):
                states[run["state"]] = states.get(run["state"], 0) + 1
                break
            time.sleep(0.05)
    service_s = time.perf_counter() - t0
    time.sleep(2)
    idle_after = rss_mib(server.pid)
    with open(os.path.join(work, "data", "run-log.jsonl")) as f:
        records = sum(1 for _ in f)
    server.terminate()
    server.wait()

    t0 = time.perf_counter()
    for i in range(args.runs):
        subprocess.run(
            [BINARY, "analyze", inputs, "--quiet", "--threads", str(os.cpu_count() or 1),
             "--out", os.path.join(work, "cli", str(i))],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli_s = time.perf_counter() - t0

    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    service_rate = args.runs * images / service_s
    cli_rate = args.runs * images / cli_s
    print(f"{args.runs} runs of {images} images from {args.clients} clients, {args.workers} workers x {threads} threads")
    print(f"submitted {len(ids)} ({len(set(ids))} distinct), errors {len(errors)}, ended {states}, run-log records {records}")
    print(f"lost {args.runs - states.get('done', 0)}, duplicated {len(ids) - len(set(ids))}")
    print(f"submit latency p50 {1000 * statistics.median(latencies):.1f} ms, p99 {1000 * p99:.1f} ms")
    print(f"service {service_rate:.1f} images/s ({service_s:.1f} s), CLI one process per run {cli_rate:.1f} images/s ({cli_s:.1f} s): {100 * service_rate / cli_rate:.0f} %")
    print(f"server RSS idle {idle_before:.1f} MiB, after the load {idle_after:.1f} MiB")
    return 0 if not errors and states.get("done", 0) == args.runs and records == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
