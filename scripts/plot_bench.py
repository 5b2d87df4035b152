#!/usr/bin/env python3
"""plot_bench.py - the bench suite's plot, from its CSV (bench/gather.py writes both).

    python3 scripts/plot_bench.py SUITE_CSV OUT_PNG

Three panels: one DDPG update's time against the batch size (bench_update; a line per
hidden layers and backend, the notebook's PyTorch update as a point where it was
measured in the same run), the fraction of the GEMM bound of the same updates, and
environment steps per second against the number of envs (bench_env; a line per
environment and backend). Needs matplotlib (scripts/setup_bench.sh installs it); exits
1 with the reason on stderr without it.
"""
import csv
import sys


def num(s):
    return float(s) if s not in ("", None) else None


def series(rows, key, x, y):
    """{key(row): [(x, y), ...] sorted by x} for the rows with a y."""
    out = {}
    for r in rows:
        if num(r[y]) is None:
            continue
        out.setdefault(key(r), []).append((num(r[x]), num(r[y])))
    return {k: sorted(v) for k, v in out.items()}


def backend_name(r):
    t = int(r["threads"] or 0)
    return f"{r['backend']} {t} thread{'s' if t > 1 else ''}" if t else r["backend"]


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} SUITE_CSV OUT_PNG")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        sys.exit(f"plot_bench: matplotlib is missing ({e}); scripts/setup_bench.sh installs it")
    rows = list(csv.DictReader(open(sys.argv[1], newline="")))
    upd = [r for r in rows if r["program"] == "bench_update" and r["metric"] == "update_us"]
    env = [r for r in rows if r["program"] == "bench_env" and r["metric"] == "env_steps_per_s"]
    torch = [r for r in rows if r["program"] == "pytorch_update" and num(r["value"])]

    fig, ax = plt.subplots(1, 3, figsize=(17, 5.2))
    hidden_colors = {}
    styles = ["-", "--", ":", "-."]
    be_style = {}

    def line_style(r):
        b = backend_name(r)
        be_style.setdefault(b, styles[len(be_style) % len(styles)])
        hidden_colors.setdefault(r["hidden"], f"C{len(hidden_colors)}")
        return hidden_colors[r["hidden"]], be_style[b]

    key = lambda r: (r["hidden"], backend_name(r))
    first = {}
    for r in upd:
        first.setdefault(key(r), r)
    for k, pts in series(upd, key, "batch", "value").items():
        c, ls = line_style(first[k])
        ax[0].plot(*zip(*pts), ls, color=c, marker="o", label=f"{k[0]}, {k[1]}")
    for i, r in enumerate(torch):
        ax[0].plot(num(r["batch"]), num(r["value"]), marker="*Pdv"[i % 4], markersize=11,
                   linestyle="",
                   color=hidden_colors.get(r["hidden"], "k"), markeredgecolor="k",
                   label=f"PyTorch (notebook) {r['hidden']}, {r['threads']} thread"
                         f"{'s' if int(r['threads']) > 1 else ''}")
    ax[0].set(xscale="log", yscale="log", xlabel="batch size", ylabel="us per update",
              title="One DDPG update (bench_update)")
    for k, pts in series(upd, key, "batch", "fraction_of_gemm_bound").items():
        c, ls = line_style(first[k])
        ax[1].plot(*zip(*pts), ls, color=c, marker="o", label=f"{k[0]}, {k[1]}")
    ax[1].axhline(1.0, color="grey", lw=0.8)
    ax[1].set(xscale="log", ylim=(0, None), xlabel="batch size",
              ylabel="GEMM FLOPs at the GEMM rate / time",
              title="Fraction of the GEMM bound (bench_update)")
    ekey = lambda r: (r["env"], backend_name(r))
    for k, pts in series(env, ekey, "envs", "value").items():
        ax[2].plot(*zip(*pts), "-" if k[1].startswith("cpu") else "--", marker="o",
                   color=f"C{sorted({r['env'] for r in env}).index(k[0])}",
                   label=f"{k[0]}, {k[1]}")
    ax[2].set(xscale="log", yscale="log", xlabel="environments at once",
              ylabel="env steps per second", title="Env step op (bench_env)")
    for a in ax:
        a.grid(True, which="both", alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"plot_bench: {sys.argv[2]}")


if __name__ == "__main__":
    main()
