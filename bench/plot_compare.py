#!/usr/bin/env python3
"""plot_compare.py - the table and the plot of bench/compare_algos.sh's runs.

    python3 bench/plot_compare.py OUT_DIR [--json]

OUT_DIR holds <variant>/s<seed>/{eval.csv,summary.json,config.json}. Writes
OUT_DIR/table.md (per variant: seeds solved, env steps to solve, final evaluation return,
wall time, and the critic's overestimation: Q1(s0, mu(s0)) minus the discounted return the
evaluation episodes then got, from eval.csv's q_start and discounted_return) and
OUT_DIR/plot.svg (evaluation return and overestimation over env steps, the mean over seeds
of each variant). With --json, prints one JSON line of the table. Standard library only
(the SVG is written by hand).
"""
import csv
import json
import math
import sys
from pathlib import Path

VARIANTS = ["ddpg", "td3", "ddpg-ou", "ddpg-gauss", "ddpg-ln", "td3-ln"]
LABELS = {"ddpg": "DDPG", "td3": "TD3", "ddpg-ou": "DDPG + OU noise",
          "ddpg-gauss": "DDPG + Gaussian noise 0.1", "ddpg-ln": "DDPG + LayerNorm",
          "td3-ln": "TD3 + LayerNorm"}
COLOURS = {"ddpg": "#1f77b4", "td3": "#d62728", "ddpg-ou": "#2ca02c", "ddpg-gauss": "#2ca02c",
           "ddpg-ln": "#9467bd", "td3-ln": "#ff7f0e"}


def load(out):
    """variant -> [run], run = {seed, steps[], ret[], over[], summary, config}."""
    runs = {}
    for v in VARIANTS:
        for d in sorted((out / v).glob("s*"), key=lambda p: int(p.name[1:])):
            rows = list(csv.DictReader(open(d / "eval.csv")))
            runs.setdefault(v, []).append({
                "seed": int(d.name[1:]),
                "steps": [int(r["global_step"]) for r in rows],
                "ret": [float(r["mean_return"]) for r in rows],
                "over": [float(r["q_start"]) - float(r["discounted_return"]) for r in rows],
                "summary": json.load(open(d / "summary.json")),
                "config": json.load(open(d / "config.json"))})
    return runs


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def sd(xs):
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs)) if xs else float("nan")


def summarise(runs):
    table = []
    for v, rs in runs.items():
        solved = [r["summary"]["solved_step"] for r in rs if r["summary"]["solved_step"] is not None]
        final = [r["summary"]["final_eval_return"] for r in rs]
        # overestimation once learning is under way: the mean over the second half of the run
        late = [mean(r["over"][len(r["over"]) // 2:]) for r in rs]
        table.append({
            "variant": v, "seeds": len(rs), "solved": len(solved),
            "solved_steps": sorted(solved),
            "median_solved_step": sorted(solved)[len(solved) // 2] if solved else None,
            "final_eval_mean": round(mean(final), 2), "final_eval_sd": round(sd(final), 2),
            "overestimation_final": round(mean([r["over"][-1] for r in rs]), 2),
            "overestimation_late": round(mean(late), 2),
            "wall_s_mean": round(mean([r["summary"]["wall_s"] for r in rs]), 1)})
    return table


def table_md(table, runs):
    any_run = next(iter(runs.values()))[0]
    cfg = any_run["config"]
    env = cfg.get("env_id", cfg.get("env"))
    threshold = any_run["summary"].get("solved_return")
    stop = (", each stopped at its first solved evaluation (--stop-when-solved)"
            if cfg.get("stop_when_solved") else "")
    lines = [f"{env}, runs of up to {cfg.get('total_steps')} env steps{stop}, evaluated every "
             f"{cfg.get('eval_every')} steps, solved at an evaluation mean >= {threshold}:", "",
             "| variant | solved | env steps to solve | final eval (mean ± sd) | "
             "overestimation, last eval | overestimation, 2nd half | wall s (mean) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in table:
        steps = ", ".join(str(s) for s in t["solved_steps"]) or "-"
        lines.append(f"| {LABELS[t['variant']]} | {t['solved']}/{t['seeds']} | {steps} | "
                     f"{t['final_eval_mean']} ± {t['final_eval_sd']} | "
                     f"{t['overestimation_final']} | {t['overestimation_late']} | "
                     f"{t['wall_s_mean']} |")
    return "\n".join(lines) + "\n"


def svg_plot(runs, title):
    """Two panels side by side: evaluation return, and overestimation, over env steps."""
    W, H, M = 1000, 380, 55
    pw = (W - 3 * M) / 2
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 40}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    # the overestimation from a third of the run on: before, the untrained critic's
    # hundreds would flatten the differences that matter
    panels = [("ret", "evaluation mean return", 0.0),
              ("over", "Q1(s0, mu(s0)) - discounted return", 1 / 3)]
    for p, (key, label, start) in enumerate(panels):
        x0, y0 = M + p * (pw + M), 35
        series = {}
        for v, rs in runs.items():
            steps = rs[0]["steps"]
            n = min(len(r[key]) for r in rs)
            first = next(i for i in range(n) if steps[i] >= start * steps[n - 1])
            series[v] = (steps[first:n], [mean([r[key][i] for r in rs]) for i in range(first, n)])
        xs = [x for s in series.values() for x in s[0]]
        ys = [y for s in series.values() for y in s[1] if math.isfinite(y)]
        xmin, xmax, ylo, yhi = min(xs), max(xs), min(ys), max(ys)
        if yhi == ylo:
            yhi += 1
        pad = 0.05 * (yhi - ylo)
        ylo, yhi = ylo - pad, yhi + pad

        def X(x):
            return x0 + pw * (x - xmin) / (xmax - xmin)

        def Y(y):
            return y0 + (H - 60) * (1 - (y - ylo) / (yhi - ylo))
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{H - 60}" fill="none" '
                   f'stroke="#888"/>')
        for k in range(5):  # axis ticks
            yv = ylo + (yhi - ylo) * k / 4
            xv = xmin + (xmax - xmin) * k / 4
            out.append(f'<text x="{x0 - 4}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.0f}</text>')
            out.append(f'<text x="{X(xv):.1f}" y="{y0 + H - 45}" text-anchor="middle">'
                       f'{xv:.0f}</text>')
        if ylo < 0 < yhi:
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(0):.1f}" y2="{Y(0):.1f}" '
                       f'stroke="#bbb" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{y0 + H - 28}" text-anchor="middle">env steps '
                   f'({label}, mean over seeds)</text>')
        for v, (sx, sy) in series.items():
            pts = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in zip(sx, sy) if math.isfinite(y))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[v]}" '
                       f'stroke-width="1.8"/>')
    lx = M
    for v in runs:  # legend along the bottom
        text = f"{LABELS[v]} ({len(runs[v])} seeds)"
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{H + 22}" y2="{H + 22}" '
                   f'stroke="{COLOURS[v]}" stroke-width="3"/>')
        out.append(f'<text x="{lx + 28}" y="{H + 26}">{text}</text>')
        lx += 28 + 7 * len(text) + 24
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    runs = load(out)
    if not runs:
        print(f"plot_compare: no runs under {out}", file=sys.stderr)
        return 2
    table = summarise(runs)
    (out / "table.md").write_text(table_md(table, runs))
    cfg = next(iter(runs.values()))[0]["config"]
    title = f"{cfg.get('env_id', cfg.get('env'))}: DDPG, TD3, OU noise, LayerNorm"
    if len({len(r["steps"]) for rs in runs.values() for r in rs}) == 1:
        (out / "plot.svg").write_text(svg_plot(runs, title))
        print(f"wrote {out / 'table.md'} and {out / 'plot.svg'}")
    else:  # runs that stopped when solved: a mean over seeds would mix lengths
        (out / "plot.svg").unlink(missing_ok=True)
        print(f"wrote {out / 'table.md'} (no plot: the runs have different lengths)")
    if "--json" in argv:
        print(json.dumps({"bench": "compare_algos", "env": cfg.get("env_id"), "runs": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
