"""Side-by-side timings: the lecture's pipeline vs ffnn_lab's, on the same data, in one process.

  python bench/speed.py [--data DIR|synthetic] [--device auto|cpu|cuda] [--repeats 5]
                        [--full-run] [--json PATH]

Measures (medians of --repeats runs):
  1. building CIFAR-2 train + validation: enumerate-and-filter over decoded samples vs labels only;
  2. one training epoch of the baseline (batch 64, SGD): DataLoader over Subset(CIFAR10 with
     ToTensor+Normalize) vs the fast path (fit) vs the compute floor (forward, backward and step
     over batches already in memory, nothing else);
  3. per-channel mean/std: stack every ToTensor image vs channel_stats, time and peak memory.
On CUDA, also the graph engine (fit(engine="graph"): the epoch captured as one CUDA graph) against
its floor, the bare update over the same held batches captured the same way.
--full-run also times the 100-epoch baseline with the lecture's recipe (Recipe()): on the CPU with
fit's default engine; on CUDA with both engines from the same weights and seed, their histories
compared and the verdict printed (does the graph match the eager loop and beat it?).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from ffnn_lab import Recipe, baseline, channel_stats, cifar2_indices, fit, graphed, load_cifar10, remap_label
from ffnn_lab.data import find_source, preload
from ffnn_lab.device import resolve_device
from ffnn_lab.recipes import make_optimizer


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_rss_during(fn) -> int | None:
    """Bytes by which resident memory peaked above its level at the start of fn (Linux only)."""
    status = Path("/proc/self/status")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to now
    except OSError:
        return None

    def field(name: str) -> int:
        line = next(ln for ln in status.read_text().splitlines() if ln.startswith(name))
        return int(line.split()[1]) * 1024

    before = field("VmRSS:")
    fn()
    return field("VmHWM:") - before


def graph_epochs(r: dict, fresh, fast, held, update, repeats: int) -> None:
    """CUDA only: fit's graph engine per epoch (median over one run, capture apart) vs its floor, the
    bare update over the held batches captured as one graph and replayed."""
    model, _ = fresh()
    start = time.perf_counter()
    history = fit(model, fast, recipe=Recipe(epochs=max(3, repeats)), progress=False, engine="graph")
    torch.cuda.synchronize()
    seconds = [h["seconds"] for h in history]
    r["epoch_graph_s"] = statistics.median(seconds)
    r["graph_setup_s"] = time.perf_counter() - start - sum(seconds)

    model, opt = fresh(lambda m: make_optimizer(m, Recipe()))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for x, y in [held[0], held[-1]] * 3:  # warm-up: each batch shape, before capture
            update(model, opt, x, y)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=side):
        for x, y in held:
            update(model, opt, x, y)

    def replay():
        graph.replay()
        torch.cuda.synchronize()

    r["epoch_graph_floor_s"] = median_time(replay, repeats)
    r["graph_floor_ratio"] = r["epoch_graph_s"] / r["epoch_graph_floor_s"]
    r["graph_speedup"] = r["epoch_package_s"] / r["epoch_graph_s"]
    print(
        f"epoch (graph): {r['epoch_graph_s']:.4f} s, graphed floor {r['epoch_graph_floor_s']:.4f} s, "
        f"capture {r['graph_setup_s']:.2f} s",
        flush=True,
    )


# The graph engine "matches" the eager loop when every epoch's mean loss agrees this closely
# (float32 sums taken in another order) and training accuracy within this many points.
MATCH_LOSS_REL, MATCH_ACCURACY = 1e-3, 0.005


def compare_engines(r: dict, eager: list[dict], graph: list[dict]) -> None:
    """How closely the graph's 100-epoch history follows the eager loop's, and which should be the
    default: the graph only if it matched and was faster (graphed.AUTO_PICKS_GRAPH)."""
    rel = max(
        abs(g["loss"] - e["loss"]) / max(abs(e["loss"]), 1e-12) for e, g in zip(eager, graph, strict=True)
    )
    acc = max(abs(g["train_accuracy"] - e["train_accuracy"]) for e, g in zip(eager, graph, strict=True))
    r["graph_loss_max_rel_diff"], r["graph_train_accuracy_max_diff"] = rel, acc
    r["graph_matches_eager"] = len(eager) == len(graph) and rel <= MATCH_LOSS_REL and acc <= MATCH_ACCURACY
    r["graph_faster"] = r["baseline_100_epochs_graph_s"] < r["baseline_100_epochs_eager_s"]
    pays = r["graph_matches_eager"] and r["graph_faster"]
    r["graph_verdict"] = (
        "the graph matches and is faster: AUTO_PICKS_GRAPH = True is supported"
        if pays
        else "keep AUTO_PICKS_GRAPH = False ("
        + ("slower" if r["graph_matches_eager"] else "histories differ")
        + ")"
    )


def lecture_stats(ds):
    imgs = torch.stack([img for img, _ in ds], dim=3)
    return imgs.view(3, -1).mean(dim=1), imgs.view(3, -1).std(dim=1)


def stats_child(args) -> int:
    """Print the peak memory of one statistics method, measured in a process of its own."""
    ds = load_cifar10(args.data, True, transforms.ToTensor(), download=True)
    fn = {"lecture": lambda: lecture_stats(ds), "package": lambda: channel_stats(ds.data)}
    print(peak_rss_during(fn[args.stats_child]))
    return 0


def peak_in_fresh_process(method: str, data: str | None) -> int | None:
    """A fresh process, so memory freed by earlier measurements cannot hide this one's peak."""
    cmd = [sys.executable, __file__, "--stats-child", method] + (["--data", data] if data else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return None if not out or out[-1] == "None" else int(out[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="synthetic, a directory, or unset for the official copy")
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--full-run", action="store_true", help="also time 100 epochs of the baseline")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--engines",
        nargs="+",
        choices=graphed.ENGINES,
        help="engines for --full-run (default: eager and graph on CUDA, auto on the CPU)",
    )
    p.add_argument("--stats-child", choices=["lecture", "package"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.stats_child:
        return stats_child(args)
    device = resolve_device(args.device)
    source = find_source(args.data)
    torch.manual_seed(0)
    print(
        f"data: {source}; device: {device}"
        f"{' (' + torch.cuda.get_device_name() + ')' if device.type == 'cuda' else ''}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        flush=True,
    )

    # Both pipelines start from the same loaded datasets: decoding files is not measured.
    tf = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.4915, 0.4823, 0.4468), (0.2470, 0.2435, 0.2616))]
    )
    train10 = load_cifar10(args.data, True, tf, remap_label, download=True)
    val10 = load_cifar10(args.data, False, tf, remap_label, download=True)
    r: dict[str, float | int | str | None] = {"device": str(device), "data": str(source)}

    # 1. CIFAR-2 subsets
    def lecture_subsets():
        return (
            Subset(train10, [i for i, s in enumerate(train10) if s[1] in {0, 1}]),
            Subset(val10, [i for i, s in enumerate(val10) if s[1] in {0, 1}]),
        )

    def package_subsets():
        return (
            Subset(train10, cifar2_indices(train10.targets)),
            Subset(val10, cifar2_indices(val10.targets)),
        )

    assert [s.indices for s in lecture_subsets()] == [s.indices for s in package_subsets()]
    r["subset_lecture_s"] = median_time(lecture_subsets, max(1, args.repeats // 2))
    r["subset_package_s"] = median_time(package_subsets, args.repeats)
    print(
        f"subsets: lecture {r['subset_lecture_s']:.3f} s, package {r['subset_package_s']:.5f} s", flush=True
    )

    # 2. one epoch, three ways, from the same initial weights
    cifar2, _ = package_subsets()
    mean, std = channel_stats(train10.data)
    fast = preload(cifar2, mean, std, device)
    start_state = baseline().state_dict()
    loss_fn = torch.nn.CrossEntropyLoss()

    def fresh(optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=1e-2)):  # the lecture's
        model = baseline().to(device)
        model.load_state_dict(start_state)
        return model, optimizer(model)

    loader = DataLoader(cifar2, batch_size=64, shuffle=True)

    def lecture_epoch():
        model, opt = fresh()
        for imgs, labels in loader:
            imgs, labels = imgs.to(device), labels.to(device)
            loss = loss_fn(model(imgs.view(imgs.shape[0], -1)), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync(device)

    def package_epoch():
        model, _ = fresh()
        fit(model, fast, recipe=Recipe(epochs=1), progress=False, engine="eager")
        sync(device)

    held = list(zip(fast.x.split(64), fast.y.split(64)))  # batches already in memory

    def update(model, opt, x, y):  # the same update as fit's, with nothing around it
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def floor_epoch():
        model, opt = fresh(lambda m: make_optimizer(m, Recipe()))
        for x, y in held:
            update(model, opt, x, y)
        sync(device)

    floor_epoch()  # warm-up: first-call allocations and kernel selection
    for name, fn in (("lecture", lecture_epoch), ("package", package_epoch), ("floor", floor_epoch)):
        r[f"epoch_{name}_s"] = median_time(fn, args.repeats)
        print(f"epoch ({name}): {r[f'epoch_{name}_s']:.3f} s", flush=True)
    if device.type == "cuda":
        graph_epochs(r, fresh, fast, held, update, args.repeats)

    # 3. per-channel statistics, on the 0..1 scale
    tensors10 = load_cifar10(args.data, True, transforms.ToTensor(), download=True)

    lm, ls = lecture_stats(tensors10)
    pm, ps = channel_stats(tensors10.data)
    assert torch.allclose(lm, pm, atol=1e-4) and torch.allclose(ls, ps, atol=1e-4)
    r["stats_lecture_s"] = median_time(lambda: lecture_stats(tensors10), max(1, args.repeats // 2))
    r["stats_package_s"] = median_time(lambda: channel_stats(tensors10.data), args.repeats)
    r["stats_lecture_peak_bytes"] = peak_in_fresh_process("lecture", args.data)
    r["stats_package_peak_bytes"] = peak_in_fresh_process("package", args.data)

    if args.full_run:
        # fit's default engine; on CUDA both engines side by side, from the same weights and seed
        engines = args.engines or (("eager", "graph") if device.type == "cuda" else ("auto",))
        histories = {}
        for engine in engines:
            model, _ = fresh()
            start = time.perf_counter()
            histories[engine] = fit(model, fast, recipe=Recipe(), progress=False, engine=engine)
            sync(device)
            r[f"baseline_100_epochs_{engine}_s"] = time.perf_counter() - start
        default = "graph" if device.type == "cuda" and graphed.AUTO_PICKS_GRAPH else "eager"
        r["baseline_100_epochs_s"] = r.get(
            f"baseline_100_epochs_{default}_s", r.get("baseline_100_epochs_auto_s")
        )
        if {"eager", "graph"} <= set(histories):
            compare_engines(r, histories["eager"], histories["graph"])

    r["subset_speedup"] = r["subset_lecture_s"] / r["subset_package_s"]
    r["epoch_speedup"] = r["epoch_lecture_s"] / r["epoch_package_s"]
    r["floor_ratio"] = r["epoch_package_s"] / r["epoch_floor_s"]
    r["stats_speedup"] = r["stats_lecture_s"] / r["stats_package_s"]
    lp, pp = r["stats_lecture_peak_bytes"], r["stats_package_peak_bytes"]
    r["stats_memory_ratio"] = pp / lp if lp and pp is not None else None

    mib = lambda b: "n/a" if b is None else f"{b / 2**20:,.0f} MiB"
    rows = [
        (
            "CIFAR-2 subsets",
            r["subset_lecture_s"],
            r["subset_package_s"],
            None,
            f"{r['subset_speedup']:,.0f}x faster (target >= 100x)",
        ),
        (
            "one epoch",
            r["epoch_lecture_s"],
            r["epoch_package_s"],
            r["epoch_floor_s"],
            f"{r['epoch_speedup']:.1f}x faster (>= 3x); {r['floor_ratio']:.2f}x floor (<= 1.3x)",
        ),
        (
            "mean/std",
            r["stats_lecture_s"],
            r["stats_package_s"],
            None,
            f"{r['stats_speedup']:,.0f}x faster (>= 20x); memory {mib(lp)} vs {mib(pp)}",
        ),
    ]
    if "epoch_graph_s" in r:  # CUDA: the graph engine against its own, graphed, floor
        note = (
            f"{r['graph_speedup']:.1f}x faster than eager; {r['graph_floor_ratio']:.2f}x its floor (<= 1.3x)"
        )
        rows.insert(2, ("graphed epoch", None, r["epoch_graph_s"], r["epoch_graph_floor_s"], note))
    print(f"\n{'measurement':<16}{'lecture s':>11}{'package s':>11}{'floor s':>9}  result")
    cell = lambda v, width: f"{'' if v is None else f'{v:.4f}':>{width}}"  # noqa: E731
    for name, a, b, c, note in rows:
        print(f"{name:<16}{cell(a, 11)}{cell(b, 11)}{cell(c, 9)}  {note}")
    if r["stats_memory_ratio"] is not None:
        print(f"{'':<47}memory ratio {r['stats_memory_ratio']:.3f} (<= 0.25)")
    if "baseline_100_epochs_graph_s" in r:
        print(
            f"100-epoch baseline: graph {r['baseline_100_epochs_graph_s']:.1f} s, eager "
            f"{r['baseline_100_epochs_eager_s']:.1f} s (target < 3 s on an H100/H200); "
            f"losses differ by at most {r['graph_loss_max_rel_diff']:.1e} (relative), final training "
            f"accuracy by {r['graph_train_accuracy_max_diff']:.4f}: {r['graph_verdict']}"
        )
    elif "baseline_100_epochs_s" in r:
        print(f"100-epoch baseline: {r['baseline_100_epochs_s']:.1f} s (target < 60 s on 2 CPU cores)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
