#!/usr/bin/env python3
"""report.py - the run report: one self-contained Plotly HTML page from a run directory.

    python3 scripts/report.py [--quiet] RUN_DIR [-o OUT.html]   # default: RUN_DIR/report.html

Reads the run directory of docs/design.md section 8 and draws the notebook's diagnostics
(seed notebook, section 3: learning curve with its 10-episode moving average, Q(s,a) vs
TD target, critic and actor losses, policy and Q on fixed probe states) plus evaluation
return over env steps and wall time against the solved threshold, throughput, and a
header table of config and summary. plotly.js is inlined from the installed plotly
package, so the page opens offline.

Files: config.json and episodes.csv are required; updates.csv, probes.csv, eval.csv,
progress.csv and summary.json are optional (their section then says "not recorded").
A missing required file, a CSV whose header lacks a column or whose row has a wrong field
count or a non-numeric value, or an invalid JSON file, is an error: a message naming the
file and line on stderr, exit status 2, and no page written (exit statuses: below). An
interrupted run (no summary.json, a last line cut short) is reported as far as it was
logged: the trainer ends every row with a newline, so a last line without one is dropped
with a warning.

The page header says how the run ended, from summary.json's "status" (completed,
solved, interrupted, diverged, error); a summary.json without "status" (an older
trainer) is shown without a verdict, and no summary.json at all means the run did not
finish. Paths may hold any bytes: non-UTF-8 ones are shown as \\xNN.

Only the standard library and plotly. Long logs are averaged over contiguous blocks so
that no trace has more than MAX_POINTS points (the browser stays responsive with many
envs or long runs).

exit status (each failure is one line on stderr starting with "report: "):
  0  the page was written
  1  a bug in report.py ("report: internal error ...")
  2  a bad command line, or a run directory that cannot be reported: missing, not a
     directory, a required file missing, a malformed CSV or JSON file (named, with the line)
  3  a Python module is missing ("report: plotly is not installed: run scripts/setup.sh")
  4  the page cannot be written ("report: error: cannot write PATH: <the OS error>"); it
     is written to a temporary file in the same directory and renamed, so an older page
     stays whole and nothing half-written is left behind
"""
import sys

EXIT_BUG, EXIT_RUN_DIR, EXIT_IMPORT, EXIT_WRITE = 1, 2, 3, 4


def import_failure(e):
    """The one line for an ImportError at start-up."""
    name = e.name or ""
    if name == "plotly":
        return "report: plotly is not installed: run scripts/setup.sh"
    if name.startswith("plotly."):
        return f"report: plotly is not installed completely ({e}): run scripts/setup.sh"
    return f"report: a module the report needs is missing ({e}): run scripts/setup.sh"


try:
    import argparse
    import html
    import json
    import math
    import os
    import tempfile
    import traceback
    from dataclasses import dataclass, field
    from pathlib import Path

    import plotly
    import plotly.graph_objects as go
    import plotly.offline
    from plotly.subplots import make_subplots
except ImportError as e:
    if __name__ != "__main__":
        raise
    print(import_failure(e), file=sys.stderr)
    sys.exit(EXIT_IMPORT)

MAX_POINTS = 5000  # per scatter trace; longer series are averaged over contiguous blocks
MAX_SNAPSHOTS = 500  # probe heatmap columns; more snapshots are thinned evenly
MA_WINDOW = 10  # the notebook's moving-average window, in episodes
# The environment's "solved" threshold: config.json's solved_return, set by load_run; a run
# of a trainer older than it was of Pendulum-v1, whose threshold is -200.
SOLVED_RETURN = -200.0
TEMPLATE = "plotly_white"

# Column specs: name -> int or float. Required columns must all be in the header (in any
# order); OPTIONAL columns are read when present; any other column is ignored, so a
# trainer that logs one more column still gets a report.
COLUMNS = {
    "episodes.csv": {"episode": int, "env": int, "return": float, "length": int,
                     "global_step": int, "wall_s": float},
    "updates.csv": {"update": int, "critic_loss": float, "actor_loss": float,
                    "q_mean": float, "y_mean": float},
    "probes.csv": {"episode": int, "probe": int, "action": float, "q": float},
    "eval.csv": {"global_step": int, "wall_s": float, "mean_return": float,
                 "std_return": float, "min_return": float, "max_return": float},
    "progress.csv": {"global_step": int, "wall_s": float, "episodes": int,
                     "env_steps_per_s": float, "updates_per_s": float},
}
OPTIONAL = {"updates.csv": {"critic_grad_norm": float, "actor_grad_norm": float,
                            "q2_mean": float},  # TD3's second critic
            "eval.csv": {"q_start": float, "discounted_return": float}}
REQUIRED_FILES = ("config.json", "episodes.csv")


class ReportError(Exception):
    """A problem with the run directory the user can fix; the message names file and line."""


def shown(text):
    """text with the bytes of a non-UTF-8 path (surrogate escapes, as Python decodes
    argv and file names) as \\xNN, so that it prints and goes into a UTF-8 page."""
    try:
        raw = str(text).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON \\udXXX escape
        return str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


@dataclass
class Table:
    """A parsed CSV: column name -> values, all columns the same length."""
    cols: dict
    n: int

    def __getitem__(self, name):
        return self.cols[name]


@dataclass
class Run:
    """Everything read from a run directory. A None table or summary was not recorded."""
    dir: Path
    config: dict
    episodes: Table
    updates: Table = None
    probes: Table = None
    eval: Table = None
    progress: Table = None
    summary: dict = None
    has_checkpoint: bool = False  # checkpoint.bin is in the run directory
    warnings: list = field(default_factory=list)
    absent: dict = field(default_factory=dict)  # file name -> why it has no data


# ---------------------------------------------------------------- reading

def read_csv(path, spec, optional, warnings):
    """Parses a run CSV; raises ReportError naming path:line on any malformed line, and
    appends to warnings what it tolerated."""
    optional = optional or {}
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ReportError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    lines = text.split("\n")
    last = lines.pop()  # '' when the file ends with a newline, as every trainer row does
    if last:
        warnings.append(f"{path}:{len(lines) + 1}: incomplete last line ignored "
                        f"(interrupted run?): {last[:60]!r}")
    if not lines:  # interrupted before the header reached the disk
        warnings.append(f"{path}: empty file (interrupted before anything was written?)")
        return Table({name: [] for name in list(spec) + list(optional)}, 0)

    header = [h.strip() for h in lines[0].rstrip("\r").split(",")]
    missing = [name for name in spec if name not in header]
    dups = sorted({h for h in header if header.count(h) > 1})
    if missing or dups:
        why = (f"missing column(s) {', '.join(missing)}" if missing
               else f"duplicate column(s) {', '.join(dups)}")
        raise ReportError(f"{path}:1: bad header {lines[0][:80]!r}: {why}; "
                          f"expected {','.join(spec)}")
    wanted = {**spec, **{k: v for k, v in optional.items() if k in header}}
    index = {name: header.index(name) for name in wanted}
    cols = {name: [] for name in list(spec) + list(optional)}
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\r").split(",")
        if len(fields) != len(header):
            raise ReportError(f"{path}:{lineno}: expected {len(header)} fields "
                              f"({','.join(header)}), found {len(fields)}: {line[:80]!r}")
        for name, kind in wanted.items():
            s = fields[index[name]]
            try:
                cols[name].append(kind(s))
            except ValueError:
                what = "an integer" if kind is int else "a number"
                raise ReportError(f"{path}:{lineno}: column '{name}': {s!r} is not {what}"
                                  ) from None
    n = len(lines) - 1
    for name in optional:  # an optional column absent from the header: no values at all
        if name not in header:
            cols.pop(name)
    return Table(cols, n)


def read_json(path, warnings):
    """Parses a JSON object. The trainer writes strings (the --out path, a device name)
    byte for byte, so non-UTF-8 bytes are kept as surrogate escapes, with a warning."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", "surrogateescape")
        warnings.append(f"{path}: not UTF-8 text at byte {e.start} (a path or name with "
                        f"non-UTF-8 bytes?); such bytes are shown as \\xNN")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(value, dict):
        raise ReportError(f"{path}:1: expected a JSON object, found {type(value).__name__}")
    return value


def load_run(run_dir):
    """Reads a run directory; raises ReportError when it cannot be reported."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ReportError(f"{d}: not a directory (expected a run directory written by "
                          f"ddpg_cuda --out)")
    for name in REQUIRED_FILES:
        if not (d / name).is_file():
            raise ReportError(f"{d / name}: missing (a run directory always has "
                              f"{' and '.join(REQUIRED_FILES)})")
    warnings = []
    run = Run(dir=d, config=read_json(d / "config.json", warnings),
              episodes=read_csv(d / "episodes.csv", COLUMNS["episodes.csv"], None,
                                warnings),
              warnings=warnings)
    for name, attr in (("updates.csv", "updates"), ("probes.csv", "probes"),
                       ("eval.csv", "eval"), ("progress.csv", "progress")):
        path = d / name
        if not path.is_file():
            run.absent[name] = f"not recorded ({name} is missing)"
            continue
        table = read_csv(path, COLUMNS[name], OPTIONAL.get(name), warnings)
        setattr(run, attr, table)
        if table.n == 0:
            run.absent[name] = f"not recorded yet ({name} has no rows)"
    if run.episodes.n == 0:
        run.absent["episodes.csv"] = "no episode finished yet (episodes.csv has no rows)"
    if (d / "summary.json").is_file():
        run.summary = read_json(d / "summary.json", warnings)
    run.has_checkpoint = (d / "checkpoint.bin").is_file()
    global SOLVED_RETURN
    SOLVED_RETURN = solved_return(run)
    return run


def solved_return(run):
    """The threshold config.json (or summary.json) records, else Pendulum-v1's -200."""
    for src in (run.config, run.summary or {}):
        v = src.get("solved_return")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return -200.0


# ---------------------------------------------------------------- series helpers

def finite_or_none(values):
    """NaN/inf (a diverged critic) become gaps in the plot instead of breaking the JSON."""
    return [v if math.isfinite(v) else None for v in values]


def block_means(x, ys, max_points=MAX_POINTS):
    """Averages contiguous blocks of k rows so at most max_points remain.

    x of a block is its last x: like the trainer's update windows, a point stands for the
    window that ends there. Returns (x, [y...], k); k == 1 means unchanged.
    """
    n = len(x)
    k = max(1, math.ceil(n / max_points))
    if k == 1:
        return list(x), [list(y) for y in ys], 1
    starts = range(0, n, k)
    bx = [x[min(s + k, n) - 1] for s in starts]
    bys = [[math.fsum(y[s:s + k]) / len(y[s:s + k]) for s in starts] for y in ys]
    return bx, bys, k


def moving_average(y, window):
    """Trailing mean of `window` values, defined from index window-1 on (np.convolve
    'valid', as in the notebook). Summed per window so a NaN only spoils its windows."""
    return [math.fsum(y[i - window + 1:i + 1]) / window for i in range(window - 1, len(y))]


def first_solved(ev):
    """(global_step, wall_s) of the first evaluation with mean >= SOLVED_RETURN, or None."""
    for step, wall, mean in zip(ev["global_step"], ev["wall_s"], ev["mean_return"]):
        if mean >= SOLVED_RETURN:
            return step, wall
    return None


def style(fig, title, xtitle, ytitle, height=430):
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle,
                      template=TEMPLATE, height=height, hovermode="x unified",
                      margin=dict(l=70, r=30, t=60, b=50),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1.0,
                                  xanchor="right"))
    return fig


# ---------------------------------------------------------------- figures

def fig_learning_curve(run):
    ep = run.episodes
    ma = moving_average(ep["return"], MA_WINDOW)
    ma_x = ep["episode"][MA_WINDOW - 1:]
    x, (y,), k = block_means(ep["episode"], [ep["return"]])
    ma_x, (ma,), _ = block_means(ma_x, [ma])
    name = "Return" if k == 1 else f"Return (mean of {k} episodes)"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(y), mode="lines", name=name))
    if ma:
        fig.add_trace(go.Scatter(x=ma_x, y=finite_or_none(ma), mode="lines",
                                 name=f"Return (MA {MA_WINDOW})"))
    fig.add_hline(y=SOLVED_RETURN, line_dash="dot", line_color="gray")
    return style(fig, "Learning curve (score per episode)", "Episode", "Return")


def update_figure(run, columns, title, ytitle):
    """One line per (column, name[, Scatter options]) of updates.csv, in drawing order."""
    up = run.updates
    x, ys, k = block_means(up["update"], [up[c[0]] for c in columns])
    fig = go.Figure()
    for (_, name, *opts), y in zip(columns, ys):
        fig.add_trace(go.Scatter(x=x, y=finite_or_none(y), mode="lines", name=name,
                                 **(opts[0] if opts else {})))
    xtitle = "Update step" if k == 1 else f"Update step (means over blocks of {k} rows)"
    return style(fig, title, xtitle, ytitle)


def fig_q_vs_target(run):
    """A critic that tracks its target draws one line over the other: the target goes
    first, wide and translucent, and Q on top, thin, so both stay visible. TD3's second
    critic (q2_mean) is drawn too."""
    columns = [("y_mean", "TD target y mean",
                dict(line=dict(color="rgb(239,85,59)", width=6), opacity=0.35)),
               ("q_mean", "Q(s,a) mean" if "q2_mean" not in run.updates.cols
                else "Q1(s,a) mean", dict(line=dict(color="rgb(42,63,170)", width=1.5)))]
    if "q2_mean" in run.updates.cols:
        columns.append(("q2_mean", "Q2(s,a) mean",
                        dict(line=dict(color="rgb(0,160,120)", width=1.5, dash="dot"))))
    return update_figure(run, columns, "Critic outputs vs TD targets (mean over minibatch)",
                         "Value")


def fig_overestimation(run):
    """What the critic predicts of the evaluation episodes, Q1(s0, mu(s0)) at their start
    states, against the discounted return they got: the gap is its overestimation (the
    notebook's Q-value diagnostic that TD3 is meant to improve)."""
    ev = run.eval
    x, (q, g), _ = block_means(ev["global_step"], [ev["q_start"], ev["discounted_return"]])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(g), mode="lines+markers",
                             name="discounted return of the episodes"))
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(q), mode="lines+markers",
                             name="Q1(s0, mu(s0)) at their start states"))
    return style(fig, "Critic's prediction vs discounted return (evaluations)", "Env step",
                 "Value")


def fig_losses(run):
    return update_figure(run, [("critic_loss", "Critic loss (MSE)"),
                               ("actor_loss", "Actor loss (-Q)")],
                         "Actor/Critic losses", "Loss")


def fig_grad_norms(run):
    return update_figure(run, [("critic_grad_norm", "Critic"), ("actor_grad_norm", "Actor")],
                         "Gradient L2 norms (before clipping)", "Norm")


def probe_grid(run, value):
    """(snapshot episodes, probe indices, z[probe][snapshot]); a cell missing from an
    interrupted snapshot is None."""
    pr = run.probes
    episodes = sorted(set(pr["episode"]))
    if len(episodes) > MAX_SNAPSHOTS:  # evenly thinned, first and last kept
        step = (len(episodes) - 1) / (MAX_SNAPSHOTS - 1)
        episodes = [episodes[round(i * step)] for i in range(MAX_SNAPSHOTS)]
    probes = sorted(set(pr["probe"]))
    col = {e: i for i, e in enumerate(episodes)}
    row = {p: i for i, p in enumerate(probes)}
    z = [[None] * len(episodes) for _ in probes]
    for e, p, v in zip(pr["episode"], pr["probe"], pr[value]):
        if e in col and math.isfinite(v):
            z[row[p]][col[e]] = v
    return episodes, probes, z


def fig_probe_policy(run):
    x, y, z = probe_grid(run, "action")
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale="RdBu", zmid=0.0,
                               colorbar=dict(title="action")))
    fig = style(fig, "Policy evolution on fixed probe states", "Episode snapshot",
                "Probe state index", height=480)
    return fig.update_layout(hovermode="closest")


def fig_probe_q(run):
    x, y, z = probe_grid(run, "q")
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale="Viridis",
                               colorbar=dict(title="Q(s, mu(s))")))
    fig = style(fig, "Q-values on probe states (critic under current actor)",
                "Episode snapshot", "Probe state index", height=480)
    return fig.update_layout(hovermode="closest")


def eval_figure(run, xcol, xtitle, title):
    ev = run.eval
    x, (mean, std, lo, hi), _ = block_means(
        ev[xcol], [ev["mean_return"], ev["std_return"], ev["min_return"], ev["max_return"]])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(hi), mode="lines", line_width=0,
                             name="max", showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(lo), mode="lines", line_width=0,
                             fill="tonexty", fillcolor="rgba(99,110,250,0.18)",
                             name="min–max over eval episodes"))
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(mean), mode="lines+markers",
                             name="mean ± std", line_color="rgb(99,110,250)",
                             error_y=dict(type="data", array=finite_or_none(std),
                                          thickness=1)))
    # the labels go outside the plot area, where no evaluation point can be: the
    # threshold's in the right margin, the first solved one above the plot, under the legend
    fig.add_hline(y=SOLVED_RETURN, line_dash="dash", line_color="green")
    fig.add_annotation(text=f"solved<br>({SOLVED_RETURN:g})", xref="paper", x=1,
                       xanchor="left", xshift=4, yref="y", y=SOLVED_RETURN, showarrow=False,
                       align="left", font=dict(color="green"))
    solved = first_solved(ev)
    if solved is not None:
        at = solved[0] if xcol == "global_step" else solved[1]
        fig.add_vline(x=at, line_dash="dot", line_color="green")
        fig.add_annotation(text="first solved eval", xref="x", x=at, yref="paper", y=1,
                           yanchor="bottom", showarrow=False, font=dict(color="green"))
    fig = style(fig, title, xtitle, "Evaluation return (deterministic policy)")
    return fig.update_layout(margin=dict(r=80, t=80), legend=dict(y=1.08))


def fig_eval_steps(run):
    return eval_figure(run, "global_step", "Env steps (summed over envs)",
                       "Evaluation return over env steps")


def fig_eval_wall(run):
    return eval_figure(run, "wall_s", "Wall time (s)", "Evaluation return over wall time")


def fig_throughput(run):
    """Two rows sharing the time axis, each from zero: with many envs env-steps/s is orders
    of magnitude above updates/s, and a second y axis would exaggerate small wiggles."""
    pg = run.progress
    x, (sps, ups), _ = block_means(pg["wall_s"], [pg["env_steps_per_s"], pg["updates_per_s"]])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(sps), mode="lines+markers",
                             name="env-steps/s"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=finite_or_none(ups), mode="lines+markers",
                             name="updates/s"), row=2, col=1)
    fig = style(fig, "Throughput over time", None, "Env steps per second", height=520)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="Updates per second", row=2, col=1)
    fig.update_xaxes(title_text="Wall time (s)", row=2, col=1)
    return fig


# (div id, label, source file, builder, extra column it needs or None), in page order.
FIGURES = [
    ("fig-learning-curve", "Learning curve", "episodes.csv", fig_learning_curve, None),
    ("fig-eval-steps", "Evaluation over env steps", "eval.csv", fig_eval_steps, None),
    ("fig-eval-wall", "Evaluation over wall time", "eval.csv", fig_eval_wall, None),
    ("fig-q-vs-target", "Q vs TD target", "updates.csv", fig_q_vs_target, None),
    ("fig-overestimation", "Critic vs returns at the evaluations", "eval.csv",
     fig_overestimation, "q_start"),
    ("fig-losses", "Losses", "updates.csv", fig_losses, None),
    ("fig-grad-norms", "Gradient norms", "updates.csv", fig_grad_norms, "critic_grad_norm"),
    ("fig-probe-policy", "Policy on probe states", "probes.csv", fig_probe_policy, None),
    ("fig-probe-q", "Q on probe states", "probes.csv", fig_probe_q, None),
    ("fig-throughput", "Throughput", "progress.csv", fig_throughput, None),
]
SECTIONS = [
    ("Learning", ["fig-learning-curve", "fig-eval-steps", "fig-eval-wall"]),
    ("Critic and actor", ["fig-q-vs-target", "fig-overestimation", "fig-losses",
                          "fig-grad-norms"]),
    ("Policy on fixed probe states", ["fig-probe-policy", "fig-probe-q"]),
    ("Throughput", ["fig-throughput"]),
]
TABLE_OF = {"episodes.csv": "episodes", "updates.csv": "updates", "probes.csv": "probes",
            "eval.csv": "eval", "progress.csv": "progress"}


def build_figures(run):
    """div id -> plotly Figure, for every diagnostic the run recorded (a Run or a path)."""
    if not isinstance(run, Run):
        run = load_run(run)
    figs = {}
    for div_id, _, source, build, needs in FIGURES:
        table = getattr(run, TABLE_OF[source])
        if source in run.absent or table is None:
            continue
        if needs is not None and needs not in table.cols:
            continue
        figs[div_id] = build(run)
    return figs


# ---------------------------------------------------------------- how the run ended

@dataclass
class Status:
    """The page header's verdict: key (summary.json's status, or not-recorded /
    no-summary), kind (its colour: ok, info, warn, bad), headline and detail."""
    key: str
    kind: str
    headline: str
    detail: str = ""


def last_logged_step(run):
    """The largest global_step any log reached, or None."""
    tables = [t for t in (run.episodes, run.progress, run.eval) if t is not None and t.n]
    return max((t["global_step"][-1] for t in tables), default=None)


def checkpoint_text(s):
    step = s.get("checkpoint_step")
    return "no checkpoint was written" if step is None else \
        f"checkpoint.bin at env step {fmt(step)}"


def summary_status(s):
    """Status from summary.json alone: only what it says."""
    status, steps = s.get("status"), fmt(s.get("env_steps"))
    if "status" not in s:
        return Status("not-recorded", "info", "Run ended: summary.json was written",
                      'it has no "status" (an older trainer), so it does not say how the '
                      "run ended; the table below shows what it recorded.")
    if status == "solved":
        return Status(status, "ok", f"Solved at env step {fmt(s.get('solved_step'))} "
                                    f"({fmt(s.get('solved_wall_s'))} s)",
                      f"the first evaluation with mean return ≥ {SOLVED_RETURN:g}; the run "
                      f"ended after {steps} env steps.")
    if status == "completed":
        solved = ("not solved: no evaluation reached a mean return of "
                  f"{SOLVED_RETURN:g}." if s.get("solved_step") is None else
                  f"first solved at env step {fmt(s['solved_step'])}.")
        return Status(status, "ok", f"Completed: {steps} env steps, "
                                    f"{fmt(s.get('updates'))} updates", solved)
    if status == "interrupted":
        resume = (": ddpg_cuda --resume DIR continues it"
                  if s.get("checkpoint_step") is not None else "")
        return Status(status, "warn", f"Interrupted at env step {steps}",
                      f"stopped by SIGINT or SIGTERM; the logs and this summary were written, "
                      f"{checkpoint_text(s)}{resume}.")
    if status == "diverged":
        d = s.get("diverged")
        if isinstance(d, dict) and "update" in d and "quantity" in d:
            headline = (f"Diverged at update {fmt(d['update'])}: {fmt(d['quantity'])} is "
                        f"not finite")
        else:
            headline = "Diverged (the update and the quantity were not recorded)"
        ckpt = s.get("checkpoint_step")
        kept = ("no checkpoint was kept" if ckpt is None else
                f"the last good checkpoint is checkpoint.bin at env step {fmt(ckpt)}")
        return Status(status, "bad", headline, f"the run stopped at env step {steps}; {kept}.")
    if status == "error":
        return Status(status, "bad", f"Stopped by an error at env step {steps}",
                      f"the trainer's message is on its stderr; {checkpoint_text(s)}.")
    return Status(shown(status), "warn", f"Ended with status {fmt(status)!r}",
                  "a status unknown to this report (a newer trainer?).")


def run_status(run):
    """How the run ended, checked against the logs: a summary that the logs have
    outgrown is from an earlier process (a resumed run still going)."""
    if run.summary is None:
        return Status("no-summary", "warn", "No summary: the run did not finish (still "
                      "running, killed, or the disk filled)",
                      "this report shows what was logged so far.")
    status = summary_status(run.summary)
    logged, steps = last_logged_step(run), run.summary.get("env_steps")
    if isinstance(steps, int) and logged is not None and logged > steps:
        status.kind = "bad" if status.kind == "bad" else "warn"
        status.detail += (f" But summary.json (env step {steps}) is older than the logs "
                          f"(env step {logged}): a resumed run may still be running.")
    return status


# ---------------------------------------------------------------- page

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin: 8px 0 2px; }
h2 { font-size: 1.25em; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin: 0 0 12px; }
.status { padding: 10px 14px; border-radius: 4px; margin: 10px 0 14px;
          border-left: 6px solid; font-size: 1.05em; }
.status .headline { font-size: 1.3em; font-weight: 700; display: block; }
.ok { background: #e6f4ea; border-color: #1e8e3e; }
.info { background: #e8f0fe; border-color: #1967d2; }
.warn { background: #fff4e5; border-color: #e8710a; }
.bad { background: #fce8e6; border-color: #d93025; }
.tables { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; background: #fff; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; }
th { color: #555; font-weight: 600; }
.figure { background: #fff; margin: 12px 0; border: 1px solid #eee; }
.not-recorded { padding: 18px; color: #777; font-style: italic; }
ul.warnings { font-size: 0.85em; color: #8a5300; }
"""


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return ",".join(fmt(x) for x in v)
    return shown(v)


def table_html(rows, caption, pairs=1):
    """Key/value rows as a table, `pairs` key/value column pairs side by side."""
    depth = math.ceil(len(rows) / pairs)
    body = ""
    for i in range(depth):
        cells = (rows[j] for j in range(i, len(rows), depth))
        body += "<tr>" + "".join(f"<th>{html.escape(fmt(k))}</th><td>{html.escape(fmt(v))}</td>"
                                 for k, v in cells) + "</tr>"
    return f"<table><caption><b>{html.escape(caption)}</b></caption>{body}</table>"


def checkpoint_row(run):
    """summary.json's checkpoint_step, and whether the file is there to back it."""
    s = run.summary
    if "checkpoint_step" not in s:
        return "checkpoint.bin" if run.has_checkpoint else "not recorded"
    if s["checkpoint_step"] is None:
        return "none"
    missing = "" if run.has_checkpoint else " (checkpoint.bin is not in the run directory)"
    return f"env step {fmt(s['checkpoint_step'])}{missing}"


def summary_rows(run):
    """Summary figures: from summary.json when the run finished, else from the logs."""
    c, s = run.config, run.summary
    backend = c.get("backend", c.get("device"))
    rows = [("backend", backend), ("device", c.get("device_name", "—")),
            ("envs", c.get("envs")), ("version", c.get("version"))]
    solved = first_solved(run.eval) if run.eval is not None else None
    if s is not None:
        if s.get("solved_step") is not None:
            solved_txt = (f"at env step {fmt(s['solved_step'])}, "
                          f"{fmt(s.get('solved_wall_s'))} s")
        else:
            solved_txt = "not solved"
        rows += [("status", s.get("status", "not recorded")),
                 ("checkpoint", checkpoint_row(run)),
                 ("env steps", s.get("env_steps")), ("updates", s.get("updates")),
                 ("wall time (s)", s.get("wall_s")),
                 ("env-steps/s", s.get("env_steps_per_s")),
                 ("updates/s", s.get("updates_per_s")),
                 ("final eval return", s.get("final_eval_return")),
                 ("best eval return", s.get("best_eval_return")),
                 (f"solved (eval mean ≥ {SOLVED_RETURN:g})", solved_txt)]
        d = s.get("diverged")
        if isinstance(d, dict):
            rows.append(("diverged",
                         f"{fmt(d.get('quantity'))} at update {fmt(d.get('update'))}"))
        return rows
    ep, ev, pg = run.episodes, run.eval, run.progress
    logged = [t for t in (ep, pg, ev) if t is not None and t.n]  # the latest of the logs
    rows += [("checkpoint", "checkpoint.bin (written while running)" if run.has_checkpoint
              else "none"),
             ("episodes finished", ep.n),
             ("last logged env step", last_logged_step(run)),
             ("last logged wall time (s)", max((t["wall_s"][-1] for t in logged),
                                               default=None))]
    if ev is not None and ev.n:
        rows += [("last eval return", ev["mean_return"][-1]),
                 ("best eval return", max(ev["mean_return"]))]
    solved_txt = (f"at env step {solved[0]}, {fmt(solved[1])} s (from eval.csv)"
                  if solved else "not solved (so far)")
    rows.append((f"solved (eval mean ≥ {SOLVED_RETURN:g})", solved_txt))
    return rows


def figure_html(div_id, fig):
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       default_width="100%", default_height=f"{fig.layout.height}px",
                       config={"responsive": True, "displaylogo": False})


def status_html(status):
    detail = f' <span class="detail">{html.escape(status.detail)}</span>' if status.detail \
        else ""
    return (f'<div id="run-status" class="status {status.kind}" '
            f'data-status="{html.escape(status.key)}"><span class="headline">'
            f'{html.escape(status.headline)}</span>{detail}</div>')


def run_kind(config):
    """'TD3 with LayerNorm on Pendulum-v1': the algorithm, LayerNorm when on, and the
    environment, as config.json records them (a run of an older trainer: DDPG)."""
    algo = str(config.get("algo") or "ddpg").upper()
    norm = " with LayerNorm" if config.get("layer_norm") is True else ""
    env = config.get("env_id") or config.get("env")
    return f"{algo}{norm}" + (f" on {shown(str(env))}" if env else "")


def page_html(run, figs):
    title = f"{run_kind(run.config)} run report — {shown(run.dir.resolve().name)}"
    warns = ""
    if run.warnings:
        items = "".join(f"<li>{html.escape(shown(w))}</li>" for w in run.warnings)
        warns = f'<ul class="warnings">{items}</ul>'
    sources = {div_id: (label, source) for div_id, label, source, _, _ in FIGURES}
    parts = []
    for heading, ids in SECTIONS:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for div_id in ids:
            if div_id in figs:
                parts.append(f'<div class="figure">{figure_html(div_id, figs[div_id])}</div>')
                continue
            label, source = sources[div_id]
            if source not in run.absent:
                continue  # an optional column (grad norms) the trainer did not log
            parts.append(f'<div class="figure not-recorded" data-figure="{div_id}">'
                         f'{html.escape(label)}: {html.escape(run.absent[source])}</div>')
    config_rows = list(run.config.items())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head>
<body>
<main>
<header>
<h1>{html.escape(title)}</h1>
<p class="sub">{html.escape(shown(run.dir))} · generated by scripts/report.py
 (plotly {html.escape(plotly.__version__)})</p>
{status_html(run_status(run))}
</header>
{warns}
<div class="tables">{table_html(summary_rows(run), "Summary")}
{table_html(config_rows, "Configuration (config.json)", pairs=2)}</div>
{"".join(parts)}
</main>
</body>
</html>
"""


def write_atomically(path, text):
    """Writes text to path via a temporary file in the same directory and a rename, so a
    failure (a full disk) never leaves a half-written page behind: the temporary file is
    removed and an older page stays as it was. Raises OSError."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # backslashreplace: nothing unencodable can stop the page (shown() made it readable)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def say(stream, line):
    """Prints one line that cannot fail on encoding (a path's odd bytes are \\xNN)."""
    enc = getattr(stream, "encoding", None) or "utf-8"
    print(shown(line).encode(enc, "backslashreplace").decode(enc), file=stream, flush=True)


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # one "report: " line and status 2, like a bad run directory
        say(sys.stderr, f"report: error: {message} (see --help)")
        sys.exit(EXIT_RUN_DIR)


def main(argv=None):
    ap = ArgumentParser(
        description="Write a self-contained HTML report (Plotly) of a ddpg_cuda run directory.",
        epilog=__doc__[__doc__.index("exit status ("):] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", metavar="RUN_DIR", help="run directory (ddpg_cuda --out DIR)")
    ap.add_argument("-o", "--out", metavar="OUT.html",
                    help="page to write (default: RUN_DIR/report.html)")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="no line on success (warnings and errors still go to stderr)")
    args = ap.parse_args(argv)
    try:
        return report(args)
    except Exception as e:  # a bug: still one line, that says where in this file
        frames = traceback.extract_tb(e.__traceback__)
        where = ([f for f in frames if f.filename == __file__] or frames)[-1]
        say(sys.stderr, f"report: internal error (a bug in report.py, line {where.lineno} in "
                        f"{where.name}): {type(e).__name__}: {e}")
        return EXIT_BUG


def report(args):
    out = Path(args.out) if args.out else Path(args.run_dir) / "report.html"
    try:
        run = load_run(args.run_dir)
        page = page_html(run, build_figures(run))
    except ReportError as e:
        say(sys.stderr, f"report: error: {e}")
        return EXIT_RUN_DIR
    for w in run.warnings:
        say(sys.stderr, f"report: warning: {w}")
    try:
        write_atomically(out, page)
    except OSError as e:
        say(sys.stderr, f"report: error: cannot write {out}: {e.strerror or e}")
        return EXIT_WRITE
    if not args.quiet:
        say(sys.stdout, f"report: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
