#!/usr/bin/env python3
"""make_fixture.py - turns a real small run into the committed tests/fixtures/run_small/.

    ./ddpg_cuda --device cpu --envs 1 --total-steps 8000 --eval-episodes 5 --threads 2 \
                --quiet --out /tmp/run_small
    python3 tests/report/make_fixture.py /tmp/run_small tests/fixtures/run_small

Copies the run as it is (40 episodes, 9 probe snapshots x 32 probes, 9 evaluations,
progress rows, the summary: "status": "solved" at env step 4000, "checkpoint_step": 8000)
except updates.csv, whose few thousand rows are averaged over blocks of BLOCK rows into
~200 wider windows, as the trainer does when it subsamples (window means, `update` = the
update index at the end of the window), and checkpoint.bin (2 MB) and report.html, which
are left out. That keeps the fixture small while every value still comes from a real run.
Not run by the tests.
"""
import json
import shutil
import sys
from pathlib import Path

BLOCK = 18


def coarsen_updates(src, dst):
    lines = src.read_text().splitlines()
    header, rows = lines[0], [[float(v) for v in r.split(",")] for r in lines[1:]]
    out = [header]
    for s in range(0, len(rows), BLOCK):
        block = rows[s:s + BLOCK]
        means = [sum(col) / len(block) for col in zip(*block)]
        out.append(",".join([str(int(block[-1][0]))] + [f"{v:.6g}" for v in means[1:]]))
    dst.write_text("\n".join(out) + "\n")


def main(src, dst):
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("episodes.csv", "probes.csv", "eval.csv", "progress.csv", "summary.json"):
        shutil.copyfile(src / name, dst / name)
    config = json.loads((src / "config.json").read_text())
    config["out"] = str(dst)
    (dst / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    coarsen_updates(src / "updates.csv", dst / "updates.csv")


if __name__ == "__main__":
    main(*sys.argv[1:3])
