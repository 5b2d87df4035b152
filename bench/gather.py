#!/usr/bin/env python3
"""gather.py - the bench suite's record, from the programs' logs (bench/run_suite.sh).

    python3 bench/gather.py OUT_DIR [--seconds S] [--load BEFORE AFTER] [--command CMD]

Reads OUT_DIR/seconds.tsv (program, seconds, exit status: the order they ran) and each
program's OUT_DIR/NAME.log, whose last JSON object is the program's result, and writes:
  suite.csv    every figure of every program, one row each (CSV_FIELDS)
  bench.png    the plot, from suite.csv (scripts/plot_bench.py; skipped without matplotlib)
  summary.md   machine, commit, the exact command, then the tables that matter
  suite.json   {"bench": "suite", "commit", "machine", "command", "seconds", "programs"}
and prints suite.json's object as its last line. Standard library only.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CSV_FIELDS = ["program", "backend", "threads", "metric", "env", "envs", "batch", "hidden",
              "config", "value", "unit", "flops", "fraction_of_gemm_bound", "gpu_cpu_ratio"]


def last_json(path):
    """The last line of the log that is a JSON object with a "bench" key, or None."""
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "bench" in obj:
                return obj
    return None


def git(*args):
    """git's output (not stripped: porcelain lines start with a blank), or None."""
    try:
        return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def machine(programs):
    """What the figures were measured on: the CPU, memory, OS, and what the programs saw."""
    cpu, flags = None, ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and cpu is None:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    mem_gib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    m = {"cpu": cpu or platform.processor() or None,
         "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
         "virtual_machine": " hypervisor" in flags, "memory_gib": mem_gib,
         "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}
    for p in programs:  # what the programs report of the machine
        r = p["result"] or {}
        if "openblas_core" in r and "openblas_core" not in m:
            m["openblas_core"] = r["openblas_core"]
        if "gpu" in r and p["name"] in ("bench_update", "bench_env") and "gpu" not in m:
            m["gpu"] = r["gpu"]
            m["no_gpu"] = r.get("no_gpu")
        if p["name"] == "pytorch_update":
            m["torch"] = r.get("torch")
    return m


def command(given):
    """The command, with what it ran under: the two OpenBLAS variables unset, or their values."""
    env = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
           if v in os.environ]
    if env:
        return "env " + " ".join(env) + " " + given.strip()
    return "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " + given.strip()


def csv_rows(programs):
    for p in programs:
        for f in (p["result"] or {}).get("figures", []):
            row = {k: f.get(k) for k in CSV_FIELDS}
            row["program"] = p["name"]
            yield row


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})


def plot(out, csv_path):
    """Runs scripts/plot_bench.py; the PNG's name, or None and why not."""
    png = os.path.join(out, "bench.png")
    try:
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "plot_bench.py"),
                            csv_path, png], capture_output=True, text=True)
    except OSError as e:
        return None, str(e)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["failed"])[-1]
        return None, why
    return "bench.png", None


# ---- the summary's tables ----

def fmt(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


def pick(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def one(rows, **kw):
    found = pick(rows, **kw)
    return found[0] if found else None


def update_table(rows):
    upd = pick(rows, program="bench_update", metric="update_us")
    if not upd:
        return ["bench_update gave no figures."]
    cols = []  # (backend, threads) in order of appearance
    for r in upd:
        if (r["backend"], r["threads"]) not in cols:
            cols.append((r["backend"], r["threads"]))
    rates = pick(rows, program="bench_update", metric="gemm_gflops")
    name = lambda b, t: f"{b} {t} thread{'s' if t > 1 else ''}" if t else b
    out = ["GEMM rate (" + (rates[0]["config"] if rates else "sgemm") + ", the backend's gemm "
           "op, fastest of 11 rounds): " +
           ", ".join(f"{name(r['backend'], r['threads'])} {fmt(r['value'])} GFLOP/s"
                     for r in rates) + ".", "",
           "us per update, median of the rounds; in brackets the fraction of the GEMM bound "
           "(the update's GEMM FLOPs at the GEMM rate, over the time)."]
    gpu = any(b == "cuda" for b, _ in cols)
    head = ["hidden", "batch", "MFLOP"] + [name(b, t) for b, t in cols] + (["GPU/CPU"] if gpu else [])
    out += ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    configs = []
    for r in upd:
        if (r["hidden"], r["batch"]) not in configs:
            configs.append((r["hidden"], r["batch"]))
    for hidden, batch in configs:
        cells = [hidden, str(batch)]
        first = one(upd, hidden=hidden, batch=batch)
        cells.append(fmt(first["flops"] / 1e6 if first["flops"] else None))
        ratio = None
        for b, t in cols:
            r = one(upd, hidden=hidden, batch=batch, backend=b, threads=t)
            if r is None or r["value"] is None:
                cells.append("-")
                continue
            cells.append(f"{fmt(r['value'])} ({fmt(r['fraction_of_gemm_bound'], 2)})")
            if r["gpu_cpu_ratio"] is not None:
                ratio = r["gpu_cpu_ratio"]
        if gpu:
            cells.append("-" if ratio is None else f"{ratio:.2f}x")
        out.append("| " + " | ".join(cells) + " |")
    return out


def pytorch_table(rows, programs):
    res = next((p["result"] for p in programs if p["name"] == "pytorch_update"), None)
    if res is None:
        return ["pytorch_update did not run."]
    ours = {t: one(rows, program="bench_update", metric="update_us", backend="cpu", threads=t,
                   hidden="256,256", batch=128) for t in (1, 2)}
    theirs = {t: one(rows, program="pytorch_update", threads=t) for t in (1, 2)}
    out = ["| 256,256, batch 128, us per update | 1 thread | 2 threads |", "| --- | --- | --- |",
           "| ours, CPU backend (bench_update) | " +
           " | ".join(fmt(ours[t]["value"] if ours[t] else None) for t in (1, 2)) + " |"]
    if res.get("torch"):
        out.append(f"| PyTorch {res['torch']}, the notebook's update (pytorch_update.py) | " +
                   " | ".join(fmt(theirs[t]["value"] if theirs[t] else None) for t in (1, 2)) +
                   " |")
        ratios = []
        for t in (1, 2):
            a, b = ours[t], theirs[t]
            ratios.append(f"{b['value'] / a['value']:.2f}x" if a and b and a["value"] and
                          b["value"] else "-")
        out.append("| PyTorch's time over ours | " + " | ".join(ratios) + " |")
        out += ["", "Both measured in this run."]
    else:
        ref = res.get("recorded_reference") or {}
        out.append(f"| PyTorch, the notebook's update | not measured | not measured |")
        out += ["", f"PyTorch was not measured in this run ({res.get('no_torch')}; "
                "`scripts/setup_bench.sh` installs torch). Recorded reference, not from this run: "
                f"{ref.get('us_per_update')} us per update on {ref.get('threads')} thread, "
                f"{ref.get('source')}."]
    return out


def env_table(rows):
    env = pick(rows, program="bench_env", metric="env_steps_per_s")
    if not env:
        return ["bench_env gave no figures."]
    gpu = any(r["backend"] == "cuda" for r in env)
    head = ["environment", "envs", "CPU steps/s"] + (["GPU steps/s", "GPU/CPU"] if gpu else [])
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    keys = []
    for r in env:
        if (r["env"], r["envs"]) not in keys:
            keys.append((r["env"], r["envs"]))
    for e, n in keys:
        c, g = one(env, env=e, envs=n, backend="cpu"), one(env, env=e, envs=n, backend="cuda")
        cells = [e, f"{n:,}", fmt(c["value"] if c else None, 0)]
        if gpu:
            cells += [fmt(g["value"] if g else None, 0),
                      f"{g['gpu_cpu_ratio']:.1f}x" if g and g["gpu_cpu_ratio"] else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def training_table(rows):
    tr = pick(rows, program="bench_backends")
    if not tr:
        return ["bench_backends gave no figures."]
    gpu = any(r["backend"] == "cuda" for r in tr)
    head = ["envs", "CPU env steps/s", "CPU updates/s"] + (
        ["GPU env steps/s", "GPU updates/s", "GPU/CPU (steps)"] if gpu else [])
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for n in sorted({r["envs"] for r in tr}):
        get = lambda b, m: one(tr, envs=n, backend=b, metric=m)
        cs, cu = get("cpu", "train_env_steps_per_s"), get("cpu", "train_updates_per_s")
        cells = [f"{n:,}", fmt(cs and cs["value"], 0), fmt(cu and cu["value"], 1)]
        if gpu:
            gs, gu = get("cuda", "train_env_steps_per_s"), get("cuda", "train_updates_per_s")
            cells += [fmt(gs and gs["value"], 0), fmt(gu and gu["value"], 1),
                      f"{gs['gpu_cpu_ratio']:.1f}x" if gs and gs["gpu_cpu_ratio"] else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def summary(suite, rows, png, png_why, load):
    m = suite["machine"]
    gpu = m.get("gpu") or f"none ({m.get('no_gpu')})"
    dirty = suite.get("changed_files") or []
    lines = [
        f"# Bench suite, {suite['date']}", "",
        f"- Command: `{suite['command']}`",
        f"- Commit: {suite['commit']}" + (
            f" with uncommitted changes to {', '.join(dirty)}" if dirty else
            " (no uncommitted changes to tracked files)"),
        f"- Machine: {m.get('cpu')}, {m.get('cores')} cores"
        f"{' (a virtual machine)' if m.get('virtual_machine') else ''}, "
        f"{m.get('memory_gib')} GiB; {m.get('os')}; OpenBLAS kernel {m.get('openblas_core')}; "
        f"GPU: {gpu}; Python {m.get('python')}, torch {m.get('torch') or 'not installed'}",
    ]
    if load:
        lines.append(f"- Load average (1, 5, 15 min) before the suite: {load[0]}; after: {load[1]}")
    secs = ", ".join(f"{p['name']} {p['seconds']} s" for p in suite["programs"])
    lines.append(f"- Time: {suite['seconds']} s in all ({secs})")
    failed = [p["name"] for p in suite["programs"] if p["exit_status"] != 0]
    if failed:
        lines.append(f"- **Failed**: {', '.join(failed)} (see their logs)")
    lines += [
        "- Files: `suite.csv` (every figure, one row each), `suite.json` (the suite's JSON "
        "line), `NAME.log` (each program's output)" + (", `bench.png` (the plot)" if png else
                                                       f"; no plot ({png_why})"),
        "", "## One DDPG update (bench_update)", "",
        "Pendulum's sizes (obs 3, act 1), the notebook's hyperparameters; the update samples "
        "the replay, steps the critic and the actor and soft-updates the targets. On the GPU, "
        "a CUDA Graph of 20 updates, replayed. GPU/CPU: the CPU's time on all its cores over "
        "the GPU's.", ""]
    lines += update_table(rows)
    lines += ["", "## The notebook's update in PyTorch (pytorch_update.py)", ""]
    lines += pytorch_table(rows, suite["programs"])
    lines += ["", "## Environment steps per second (bench_env)", "",
              "The backend's env step op alone (auto-reset and episode log included), "
              "actions fixed; the GPU replays a CUDA Graph of one step.", ""]
    lines += env_table(rows)
    lines += ["", "## Training throughput (bench_backends)", "",
              "The trainer on Pendulum, 256,256, batch 256, one update per vectorized step.", ""]
    lines += training_table(rows)
    lines += ["", "## The other programs", "",
              "`bench_cpu.log`: the update at 1 and 2 threads and the notebook's setting "
              "(`--envs 1`, one update per step), with the cross-core round trip; "
              "`bench_gpu.log`: a GPU update op by op and as graphs; `bench_gemm_rows.log`: "
              "what the CPU backend's GEMM row blocks cost and keep."]
    if png:
        lines += ["", f"![update time, fraction of the GEMM bound, env steps per second]({png})"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, help="the whole suite's wall time")
    ap.add_argument("--load", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="/proc/loadavg's three figures before and after the suite")
    ap.add_argument("--command", default="make bench", help="what ran the suite")
    a = ap.parse_args()
    programs = []
    try:
        tsv = open(os.path.join(a.out, "seconds.tsv")).read().splitlines()
    except OSError as e:
        sys.exit(f"gather: {e}")
    for line in tsv:
        name, secs, status = line.split("\t")
        programs.append({"name": name, "seconds": float(secs), "exit_status": int(status),
                         "result": last_json(os.path.join(a.out, name + ".log"))})
    dirty = git("status", "--porcelain", "--untracked-files=no") or ""
    commit = git("rev-parse", "--short", "HEAD")
    suite = {"bench": "suite", "date": datetime.date.today().isoformat(),
             "commit": commit.strip() if commit else None,
             # the record's own files (an earlier record in the same folder) are not
             # changes to what was measured
             "changed_files": [f for f in (l[3:] for l in dirty.splitlines() if l.strip())
                               if not os.path.abspath(os.path.join(ROOT, f)).startswith(
                                   os.path.abspath(a.out) + os.sep)],
             "machine": machine(programs), "command": command(a.command),
             "seconds": a.seconds, "programs": programs}
    rows = list(csv_rows(programs))
    csv_path = os.path.join(a.out, "suite.csv")
    write_csv(csv_path, rows)
    png, png_why = plot(a.out, csv_path)
    suite["plot"] = png
    with open(os.path.join(a.out, "summary.md"), "w") as fh:
        fh.write(summary(suite, rows, png, png_why, a.load))
    line = json.dumps(suite)
    with open(os.path.join(a.out, "suite.json"), "w") as fh:
        fh.write(line + "\n")
    print(f"gather: {len(rows)} figures in {csv_path}, {os.path.join(a.out, 'summary.md')}" +
          (f", {os.path.join(a.out, png)}" if png else f"; no plot: {png_why}"))
    print(line)
    return 0 if all(p["result"] is not None for p in programs) else 1


if __name__ == "__main__":
    sys.exit(main())
