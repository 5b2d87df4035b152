"""test_report.py - scripts/report.py on the committed small run and on damaged copies.

    python3 -m unittest discover -s tests/report -v

The figures are inspected through report.build_figures(); the page and the exit status
through the script itself, as the trainer and users run it. Expected values are read
from the fixture's CSVs here with the csv module, independently of report.py's reader.
"""
import contextlib
import csv
import errno
import html
import io
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import plotly.graph_objects as go
import plotly.io as pio

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "scripts" / "report.py"
FIXTURE = ROOT / "tests" / "fixtures" / "run_small"
sys.path.insert(0, str(ROOT / "scripts"))
import report  # noqa: E402

ALL_FIGURES = {"fig-learning-curve", "fig-eval-steps", "fig-eval-wall", "fig-q-vs-target",
               "fig-overestimation", "fig-losses", "fig-grad-norms", "fig-probe-policy",
               "fig-probe-q", "fig-throughput"}


def rows(run_dir, name):
    with open(Path(run_dir) / name, newline="") as f:
        return list(csv.DictReader(f))


def column(table, name, kind=float):
    return [kind(r[name]) for r in table]


def run_report(*args, **kwargs):
    return subprocess.run([sys.executable, str(REPORT), *map(str, args)],
                          capture_output=True, text=True, timeout=120, **kwargs)


def run_report_without(module, *args):
    """report.py as a script, with `module` made unimportable (as if not installed)."""
    code = ("import runpy, sys; sys.modules[sys.argv[1]] = None; sys.argv = sys.argv[2:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code, module, str(REPORT), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def status_banner(page):
    """(data-status, css classes, text) of the page header's status line."""
    m = re.search(r'<div id="run-status" class="([^"]*)" data-status="([^"]*)">(.*?)</div>',
                  page, re.S)
    assert m, "no status line in the page"
    return m.group(2), m.group(1).split(), html.unescape(re.sub(r"<[^>]+>", "", m.group(3)))


def first_solved_eval(eval_rows):
    return next(r for r in eval_rows if float(r["mean_return"]) >= -200)


def shape_lines(fig):
    """(horizontal y values, vertical x values) of the layout's full-width/height lines."""
    hs = [s.y0 for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1]
    vs = [s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1]
    return hs, vs


class TmpRunDir(unittest.TestCase):
    """Each test gets a copy of the fixture in a temporary directory to damage."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="report-test-"))
        self.run_dir = self.tmp / "run"
        shutil.copytree(FIXTURE, self.run_dir)
        self.page = self.run_dir / "report.html"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def edit_line(self, name, lineno, fn):
        """Replaces 1-based line `lineno` of a run file with fn(line)."""
        path = self.run_dir / name
        lines = path.read_text().split("\n")
        lines[lineno - 1] = fn(lines[lineno - 1])
        path.write_text("\n".join(lines))

    def cut_last_line(self, name, keep_chars):
        """Truncates the file inside its last row, as a killed trainer leaves it."""
        path = self.run_dir / name
        text = path.read_text()
        start = text.rstrip("\n").rfind("\n") + 1
        path.write_text(text[:start + keep_chars])

    def assert_error(self, result, *needles, status=2):
        self.assertEqual(result.returncode, status, result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"not one line: {result.stderr!r}")
        self.assertTrue(lines[0].startswith("report: "), lines[0])
        self.assertFalse(self.page.exists(), "a page was written despite the error")
        self.assertEqual(self.leftovers(), [], "temporary files left behind")

    def leftovers(self):
        return [p.name for p in self.run_dir.iterdir() if p.name.startswith(".")]

    def write_summary(self, **changes):
        """Rewrites summary.json with keys changed (None: JSON null; DROP: no such key)."""
        path = self.run_dir / "summary.json"
        summary = json.loads(path.read_text())
        for key, value in changes.items():
            if value is DROP:
                summary.pop(key, None)
            else:
                summary[key] = value
        path.write_text(json.dumps(summary, indent=2) + "\n")

    def banner(self):
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        return status_banner(self.page.read_text(encoding="utf-8"))


DROP = object()  # write_summary: remove the key


class FixtureFigures(unittest.TestCase):
    """Every diagnostic of the notebook and beyond, checked against the fixture's files."""

    @classmethod
    def setUpClass(cls):
        cls.figs = report.build_figures(FIXTURE)
        cls.episodes = rows(FIXTURE, "episodes.csv")
        cls.updates = rows(FIXTURE, "updates.csv")
        cls.probes = rows(FIXTURE, "probes.csv")
        cls.eval = rows(FIXTURE, "eval.csv")
        cls.progress = rows(FIXTURE, "progress.csv")

    def test_fixture_is_the_documented_small_run(self):
        self.assertEqual(len(self.episodes), 40)
        self.assertEqual(len(self.updates), 195)
        self.assertEqual(len(self.probes), 9 * 32)
        self.assertEqual(len(self.eval), 9)
        self.assertEqual(len(self.progress), 6)  # one each 2 s of the 10.8 s run
        summary = json.loads((FIXTURE / "summary.json").read_text())
        self.assertEqual((summary["status"], summary["solved_step"], summary["checkpoint_step"],
                          summary["diverged"]), ("solved", 4000, 8000, None))

    def test_every_diagnostic_is_drawn(self):
        self.assertEqual(set(self.figs), ALL_FIGURES)

    def test_learning_curve_is_return_per_episode_and_its_10_episode_average(self):
        fig = self.figs["fig-learning-curve"]
        ret = column(self.episodes, "return")
        self.assertEqual(len(fig.data), 2)
        raw, ma = fig.data
        self.assertEqual(list(raw.x), list(range(1, 41)))
        self.assertEqual(list(raw.y), ret)
        self.assertEqual(ma.name, "Return (MA 10)")
        self.assertEqual(list(ma.x), list(range(10, 41)))  # np.convolve 'valid', as notebook
        for i, y in enumerate(ma.y):
            self.assertAlmostEqual(y, sum(ret[i:i + 10]) / 10, places=6)
        self.assertEqual(fig.layout.xaxis.title.text, "Episode")
        self.assertEqual(fig.layout.yaxis.title.text, "Return")

    def test_q_vs_target_and_losses_follow_updates_csv(self):
        x = column(self.updates, "update", int)
        for fig_id, cols in (("fig-q-vs-target", ("y_mean", "q_mean")),
                             ("fig-losses", ("critic_loss", "actor_loss")),
                             ("fig-grad-norms", ("critic_grad_norm", "actor_grad_norm"))):
            fig = self.figs[fig_id]
            self.assertEqual(len(fig.data), 2, fig_id)
            for trace, col in zip(fig.data, cols):
                self.assertEqual(list(trace.x), x, fig_id)
                self.assertEqual(list(trace.y), column(self.updates, col), (fig_id, col))
            self.assertEqual(fig.layout.xaxis.title.text, "Update step")
        self.assertEqual([t.name for t in self.figs["fig-q-vs-target"].data],
                         ["TD target y mean", "Q(s,a) mean"])
        self.assertEqual([t.name for t in self.figs["fig-losses"].data],
                         ["Critic loss (MSE)", "Actor loss (-Q)"])

    def test_q_mean_stays_visible_over_the_td_target(self):
        """The critic tracks its target closely: the target is drawn first, wide and
        translucent, and Q on top of it, thin and opaque, so neither hides the other."""
        target, q = self.figs["fig-q-vs-target"].data
        self.assertEqual((target.name, q.name), ("TD target y mean", "Q(s,a) mean"))
        self.assertEqual(list(q.y), column(self.updates, "q_mean"))
        self.assertEqual(list(target.y), column(self.updates, "y_mean"))
        self.assertEqual((target.mode, q.mode), ("lines", "lines"))
        self.assertGreaterEqual(target.line.width, 3 * q.line.width)  # Q inside the target
        self.assertLess(target.opacity, 0.6)  # Q shows through where they cross
        self.assertIn(q.opacity, (None, 1))
        self.assertTrue(target.line.color and q.line.color)
        self.assertNotEqual(target.line.color, q.line.color)
        self.assertIn(q.line.dash, (None, "solid"))

    def test_probe_heatmaps_are_probes_by_snapshot(self):
        snapshots = sorted({int(r["episode"]) for r in self.probes})
        self.assertEqual(len(snapshots), 9)
        for fig_id, col, scale in (("fig-probe-policy", "action", "RdBu"),
                                   ("fig-probe-q", "q", "Viridis")):
            fig = self.figs[fig_id]
            self.assertEqual(len(fig.data), 1)
            hm = fig.data[0]
            self.assertEqual(hm.type, "heatmap")
            self.assertEqual(list(hm.x), snapshots)
            self.assertEqual(list(hm.y), list(range(32)))
            self.assertEqual(len(hm.z), 32)
            self.assertTrue(all(len(r) == 9 for r in hm.z))
            for r in self.probes:
                s = snapshots.index(int(r["episode"]))
                self.assertEqual(hm.z[int(r["probe"])][s], float(r[col]))
            self.assertEqual(hm.colorscale, go.Heatmap(colorscale=scale).colorscale)
            self.assertEqual(fig.layout.xaxis.title.text, "Episode snapshot")
            self.assertEqual(fig.layout.yaxis.title.text, "Probe state index")
        self.assertEqual(self.figs["fig-probe-policy"].data[0].zmid, 0)

    def test_eval_band_mean_and_solved_marks(self):
        solved = first_solved_eval(self.eval)
        self.assertEqual(solved["global_step"], "4000")
        for fig_id, xcol, solved_x in (("fig-eval-steps", "global_step", 4000),
                                       ("fig-eval-wall", "wall_s", float(solved["wall_s"]))):
            fig = self.figs[fig_id]
            self.assertEqual(len(fig.data), 3, fig_id)
            hi, lo, mean = fig.data
            x = column(self.eval, xcol, int if xcol == "global_step" else float)
            for trace in fig.data:
                self.assertEqual(list(trace.x), x)
            self.assertEqual(list(hi.y), column(self.eval, "max_return"))
            self.assertEqual(list(lo.y), column(self.eval, "min_return"))
            self.assertEqual(lo.fill, "tonexty")
            self.assertEqual(list(mean.y), column(self.eval, "mean_return"))
            self.assertEqual(list(mean.error_y.array), column(self.eval, "std_return"))
            hs, vs = shape_lines(fig)
            self.assertEqual(hs, [-200])
            self.assertEqual(vs, [solved_x])  # first eval with mean >= -200
            self.assertTrue(fig.layout.xaxis.title.text)
            self.assertTrue(fig.layout.yaxis.title.text)

    def test_solved_labels_stay_off_the_curve(self):
        """The threshold's label sits in the right margin, the first-solved label above the
        plot area (under the legend): neither can cover an evaluation point."""
        for fig_id, solved_x in (("fig-eval-steps", 4000),
                                 ("fig-eval-wall",
                                  float(first_solved_eval(self.eval)["wall_s"]))):
            fig = self.figs[fig_id]
            notes = {a.text: a for a in fig.layout.annotations}
            self.assertEqual(len(notes), 2, fig_id)
            threshold = next(a for t, a in notes.items() if t.startswith("solved"))
            self.assertIn("-200", threshold.text)
            self.assertEqual((threshold.xref, threshold.x, threshold.xanchor),
                             ("paper", 1, "left"))  # right of the plot area
            self.assertEqual((threshold.yref, threshold.y), ("y", -200))
            self.assertFalse(threshold.showarrow)
            self.assertGreaterEqual(fig.layout.margin.r, 70)  # room for it
            first = notes["first solved eval"]
            self.assertEqual((first.xref, first.x), ("x", solved_x))
            self.assertEqual((first.yref, first.y, first.yanchor), ("paper", 1, "bottom"))
            self.assertFalse(first.showarrow)
            self.assertEqual(fig.layout.legend.yanchor, "bottom")
            self.assertGreater(fig.layout.legend.y, 1.05)  # the legend above that label

    def test_throughput_over_wall_time(self):
        fig = self.figs["fig-throughput"]
        self.assertEqual([t.name for t in fig.data], ["env-steps/s", "updates/s"])
        for trace, col in zip(fig.data, ("env_steps_per_s", "updates_per_s")):
            self.assertEqual(list(trace.x), column(self.progress, "wall_s"))
            self.assertEqual(list(trace.y), column(self.progress, col))
        self.assertEqual(fig.layout.xaxis2.title.text, "Wall time (s)")

    def test_every_figure_has_title_template_and_axis_titles(self):
        white = pio.templates["plotly_white"].to_plotly_json()
        for fig_id, fig in self.figs.items():
            self.assertTrue(fig.layout.title.text, fig_id)
            self.assertEqual(fig.layout.template.to_plotly_json(), white, fig_id)
            self.assertTrue(fig.layout.yaxis.title.text, fig_id)
            x_titles = [fig.layout[a].title.text for a in ("xaxis", "xaxis2")
                        if a in fig.layout and fig.layout[a].title.text]
            self.assertTrue(x_titles, fig_id)


class Page(TmpRunDir):
    """The written page: self-contained, every figure by its id, the summary in the header."""

    def test_writes_a_self_contained_page_into_the_run_dir(self):
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("report: wrote", r.stdout)
        page = self.page.read_text(encoding="utf-8")
        for fig_id in ALL_FIGURES:
            self.assertIn(f'id="{fig_id}"', page)
        self.assertEqual(page.count("Plotly.newPlot("), len(ALL_FIGURES))
        self.assertNotRegex(page, r"<script[^>]*\ssrc\s*=")  # no CDN, no file next to it
        self.assertNotRegex(page, r"<link[^>]*\shref\s*=\s*\"?https?:")
        self.assertIn("* plotly.js v", page)  # the library itself is inlined
        self.assertGreater(len(page), 1_000_000)
        self.assertIn("<title>DDPG on Pendulum-v1 run report — run</title>", page)
        self.assertIn("at env step 4000", page)  # summary.json's solved_step
        self.assertNotIn("Run complete", page)
        self.assertNotIn("not recorded", page)
        # the status line is in the page header, before the first figure
        self.assertLess(page.index('id="run-status"'), page.index("<h2>"))
        self.assertGreater(page.index('id="run-status"'), page.index("<h1>"))
        self.assertEqual([p.name for p in self.run_dir.iterdir() if p.name.startswith(".")],
                         [])

    def test_out_option_and_quiet(self):
        out = self.tmp / "elsewhere.html"
        r = run_report("--quiet", self.run_dir, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(out.is_file())
        self.assertFalse(self.page.exists())

    def test_not_solved_run_says_so(self):
        summary = json.loads((self.run_dir / "summary.json").read_text())
        summary.update(solved_step=None, solved_wall_s=None)
        (self.run_dir / "summary.json").write_text(json.dumps(summary))
        self.assertEqual(run_report(self.run_dir).returncode, 0)
        self.assertIn("not solved", self.page.read_text(encoding="utf-8"))


class RunStatus(TmpRunDir):
    """The page header says how the run ended, from summary.json's "status", and no more
    than summary.json (or its absence) tells."""

    def assert_banner(self, key, kind, *needles, absent=()):
        got_key, classes, text = self.banner()
        self.assertEqual(got_key, key, text)
        self.assertIn(kind, classes, text)
        for needle in needles:
            self.assertIn(needle, text)
        for needle in absent:
            self.assertNotIn(needle, text)
        return text

    def test_solved_names_the_solved_step(self):
        self.assert_banner("solved", "ok", "Solved at env step 4000",
                           "ended after 8000 env steps", absent=("not solved",))

    def test_completed_not_solved(self):
        self.write_summary(status="completed", solved_step=None, solved_wall_s=None)
        self.assert_banner("completed", "ok", "Completed", "8000 env steps", "not solved",
                           absent=("Solved",))

    def test_interrupted_names_the_step_and_the_checkpoint(self):
        self.write_summary(status="interrupted", env_steps=8000, checkpoint_step=8000)
        self.assert_banner("interrupted", "warn", "Interrupted at env step 8000",
                           "SIGINT or SIGTERM", "checkpoint.bin at env step 8000", "--resume")

    def test_interrupted_without_a_checkpoint(self):
        self.write_summary(status="interrupted", checkpoint_step=None)
        self.assert_banner("interrupted", "warn", "Interrupted", "no checkpoint",
                           absent=("--resume",))

    def test_diverged_names_the_update_and_the_quantity(self):
        self.write_summary(status="diverged", checkpoint_step=6000,
                           diverged={"update": 4321, "quantity": "critic_loss"})
        self.assert_banner("diverged", "bad", "Diverged at update 4321",
                           "critic_loss is not finite", "last good checkpoint",
                           "env step 6000")

    def test_diverged_without_details_says_so(self):
        self.write_summary(status="diverged", diverged=None, checkpoint_step=None)
        self.assert_banner("diverged", "bad", "Diverged", "not recorded", "no checkpoint")

    def test_error(self):
        self.write_summary(status="error")
        self.assert_banner("error", "bad", "Stopped by an error", "env step 8000", "stderr",
                           absent=("Solved", "Completed"))

    def test_an_older_summary_without_status_claims_nothing_more(self):
        self.write_summary(status=DROP, checkpoint_step=DROP, diverged=DROP)
        text = self.assert_banner("not-recorded", "info", "summary.json",
                                  "does not say how the run ended",
                                  absent=("Completed", "Solved", "complete", "Interrupted",
                                          "Diverged"))
        self.assertIn("at env step 4000", self.page.read_text(encoding="utf-8"))  # table
        self.assertNotIn("did not finish", text)

    def test_a_status_this_report_does_not_know(self):
        self.write_summary(status="paused")
        self.assert_banner("paused", "warn", "'paused'", "unknown")

    def test_no_summary(self):
        (self.run_dir / "summary.json").unlink()
        text = self.assert_banner("no-summary", "warn")
        self.assertTrue(text.startswith("No summary: the run did not finish (still running, "
                                        "killed, or the disk filled)"), text)

    def test_a_summary_older_than_the_logs_is_called_stale(self):
        """A resumed run that is still going: the logs are past the old summary."""
        self.write_summary(status="interrupted", env_steps=4000, checkpoint_step=4000)
        self.assert_banner("interrupted", "warn", "older than the logs", "env step 8000")

    def test_summary_table_shows_status_and_checkpoint(self):
        self.write_summary(status="diverged", checkpoint_step=6000,
                           diverged={"update": 4321, "quantity": "critic_loss"})
        self.assertEqual(run_report(self.run_dir).returncode, 0)
        page = self.page.read_text(encoding="utf-8")
        self.assertIn("<th>status</th><td>diverged</td>", page)
        self.assertIn("<th>checkpoint</th><td>env step 6000 (checkpoint.bin is not in the "
                      "run directory)</td>", page)
        self.assertIn("<th>diverged</th><td>critic_loss at update 4321</td>", page)
        (self.run_dir / "checkpoint.bin").write_bytes(b"x")
        self.assertEqual(run_report(self.run_dir).returncode, 0)
        self.assertIn("<th>checkpoint</th><td>env step 6000</td>",
                      self.page.read_text(encoding="utf-8"))


class ExitStatuses(TmpRunDir):
    """2: the run directory; 3: a missing module; 4: the page cannot be written. Each with
    one line on stderr, starting with "report: ", that names the cause."""

    def test_help_documents_the_exit_statuses(self):
        r = run_report("--help")
        self.assertEqual(r.returncode, 0)
        for line in ("0  the page was written", "2  ", "3  ", "4  "):
            self.assertIn(line, r.stdout)
        self.assertIn("plotly is not installed", r.stdout)
        self.assertIn("exit status", report.__doc__)
        self.assertIn(report.__doc__[report.__doc__.index("exit status ("):], r.stdout)

    def test_a_bad_command_line_is_2_in_one_line(self):
        r = run_report()
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("report: error: "), r.stderr)

    def test_a_file_where_the_run_dir_should_be_is_2(self):
        self.assert_error(run_report(self.run_dir / "config.json"), "config.json",
                          "not a directory")

    def test_plotly_missing_is_3(self):
        r = run_report_without("plotly", "--quiet", self.run_dir)
        self.assert_error(r, status=3)
        self.assertEqual(r.stderr, "report: plotly is not installed: run scripts/setup.sh\n")

    def test_part_of_plotly_missing_is_3(self):
        r = run_report_without("plotly.subplots", self.run_dir)
        self.assert_error(r, "report: plotly is not installed", "plotly.subplots",
                          "scripts/setup.sh", status=3)

    def test_another_missing_module_is_3_and_named(self):
        r = run_report_without("tempfile", self.run_dir)
        self.assert_error(r, "report: ", "tempfile", "scripts/setup.sh", status=3)

    def test_a_directory_that_does_not_exist_for_the_page_is_4(self):
        out = self.tmp / "no" / "such" / "dir" / "report.html"
        r = run_report("--quiet", self.run_dir, "-o", out)
        self.assert_error(r, f"cannot write {out}", "No such file or directory", status=4)

    def test_a_write_that_fails_midway_is_4_and_leaves_no_half_page(self):
        """A page larger than the file size limit: the write fails (EFBIG) as on a full
        disk; the older page stays and the temporary file is gone."""
        self.page.write_text("older page")
        limit = 1 << 20  # the page is ~5 MB

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        r = run_report("--quiet", self.run_dir, preexec_fn=small_files)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertRegex(r.stderr, r"^report: error: cannot write .*report\.html: "
                                   r"File too large\n$")
        self.assertIn(str(self.page), r.stderr)
        self.assertEqual(self.page.read_text(), "older page")
        self.assertEqual(self.leftovers(), [])

    def test_a_full_disk_is_4_and_named(self):
        """In process: the temporary file's write fails with ENOSPC."""
        real_fdopen = os.fdopen

        class FullDisk(io.StringIO):
            def write(self, s):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fdopen(fd, *args, **kwargs):
            real_fdopen(fd).close()
            return FullDisk()

        self.page.write_text("older page")
        err = io.StringIO()
        with mock.patch.object(report.os, "fdopen", fdopen), contextlib.redirect_stderr(err):
            rc = report.main(["--quiet", str(self.run_dir)])
        self.assertEqual(rc, 4)
        self.assertEqual(err.getvalue(), f"report: error: cannot write {self.page}: "
                                         f"No space left on device\n")
        self.assertEqual(self.page.read_text(), "older page")
        self.assertEqual(self.leftovers(), [])

    def test_a_bug_is_1_in_one_line(self):
        err = io.StringIO()
        with mock.patch.object(report, "build_figures", side_effect=RuntimeError("boom")), \
                contextlib.redirect_stderr(err):
            rc = report.main([str(self.run_dir)])
        self.assertEqual(rc, 1)
        self.assertRegex(err.getvalue(), r"^report: internal error .*RuntimeError: boom\n$")
        self.assertFalse(self.page.exists())


class OddPaths(TmpRunDir):
    """Run directories named with any bytes work, and are shown readably."""

    def rename_run_dir(self, name, raw_out=False):
        """Moves the run to tmp/name; config.json's "out" is the path with U+FFFD for each
        byte that is not UTF-8 (as the trainer writes it), or with raw_out its bytes as
        they are (as older trainers wrote it: not valid UTF-8)."""
        new = self.tmp / name
        self.run_dir.rename(new)
        self.run_dir, self.page = new, new / "report.html"
        config = json.loads((new / "config.json").read_text())
        config["out"] = "@OUT@"
        path = os.fsencode(new)
        out = path if raw_out else path.decode("utf-8", "replace").encode()
        raw = json.dumps(config, indent=2, ensure_ascii=False).encode().replace(b"@OUT@", out)
        (new / "config.json").write_bytes(raw)

    def test_an_apostrophe_and_spaces(self):
        self.rename_run_dir("it's a run")
        r = run_report("--quiet", self.run_dir)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        page = self.page.read_text(encoding="utf-8")
        self.assertIn("<title>DDPG on Pendulum-v1 run report — it&#x27;s a run</title>", page)
        self.assertEqual(status_banner(page)[0], "solved")
        r = run_report(self.run_dir)
        self.assertEqual(r.stdout, f"report: wrote {self.page}\n")

    def test_a_non_utf8_byte(self):
        self.rename_run_dir(os.fsdecode(b"run-\xff \xc3("))
        r = run_report(self.run_dir)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        shown = str(self.tmp / "run-\\xff \\xc3(")
        self.assertEqual(r.stdout, f"report: wrote {shown}/report.html\n")
        page = self.page.read_bytes().decode("utf-8")  # the page itself is valid UTF-8
        self.assertIn("<title>DDPG on Pendulum-v1 run report — run-\\xff \\xc3(</title>", page)
        self.assertIn(f"<p class=\"sub\">{html.escape(shown)} ·", page)
        self.assertIn(str(self.tmp / "run-\ufffd \ufffd("), page)  # config.json's out
        self.assertNotIn("\\udc", page)  # no surrogate escaped by the last resort
        self.assertEqual(status_banner(page)[0], "solved")
        self.assertEqual(self.leftovers(), [])

    def test_a_config_json_with_the_raw_bytes_of_the_path(self):
        """Not UTF-8, so not quite JSON: read anyway, with a warning; the bytes as \\xNN."""
        self.rename_run_dir(os.fsdecode(b"run-\xff"), raw_out=True)
        r = run_report("--quiet", self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"^report: warning: .*run-\\xff/config\.json: not UTF-8 "
                                   r"text at byte \d+ .*\n$")
        page = self.page.read_bytes().decode("utf-8")
        self.assertIn(html.escape(str(self.tmp / "run-\\xff")) + "</td>", page)  # out
        self.assertNotIn("\\udc", page)

    def test_errors_name_a_non_utf8_path_readably(self):
        self.rename_run_dir(os.fsdecode(b"run-\xff"))
        (self.run_dir / "episodes.csv").unlink()
        self.assert_error(run_report(self.run_dir), "run-\\xff/episodes.csv: missing")


class Errors(TmpRunDir):
    """Exit status 2, a message naming the file (and line), and no page."""

    def test_missing_episodes_csv(self):
        (self.run_dir / "episodes.csv").unlink()
        self.assert_error(run_report(self.run_dir), "episodes.csv", "missing")

    def test_missing_config_json(self):
        (self.run_dir / "config.json").unlink()
        self.assert_error(run_report(self.run_dir), "config.json", "missing")

    def test_run_dir_that_does_not_exist(self):
        r = run_report(self.tmp / "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a directory", r.stderr)

    def test_non_numeric_value_names_file_line_and_column(self):
        self.edit_line("updates.csv", 57,
                       lambda l: ",".join([l.split(",")[0], "abc"] + l.split(",")[2:]))
        self.assert_error(run_report(self.run_dir), "updates.csv:57", "critic_loss", "'abc'")

    def test_non_integer_episode(self):
        self.edit_line("episodes.csv", 3, lambda l: "2.5" + l[l.index(","):])
        self.assert_error(run_report(self.run_dir), "episodes.csv:3", "episode",
                          "not an integer")

    def test_wrong_header(self):
        self.edit_line("eval.csv", 1, lambda l: l.replace("mean_return", "mean"))
        self.assert_error(run_report(self.run_dir), "eval.csv:1", "mean_return")

    def test_wrong_field_count_in_the_middle(self):
        self.edit_line("probes.csv", 100, lambda l: l + ",7")
        self.assert_error(run_report(self.run_dir), "probes.csv:100", "expected 4 fields")

    def test_malformed_config_json(self):
        text = (self.run_dir / "config.json").read_text()
        (self.run_dir / "config.json").write_text(text.replace('"seed": 42,', '"seed": 42'))
        self.assert_error(run_report(self.run_dir), "config.json:", "not valid JSON")

    def test_a_failed_run_leaves_an_older_page_untouched(self):
        self.page.write_text("older page")
        (self.run_dir / "episodes.csv").write_text("episode,env\n1,0\n")
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("episodes.csv:1", r.stderr)
        self.assertEqual(self.page.read_text(), "older page")


class InterruptedRuns(TmpRunDir):
    """What a killed or young run leaves behind is reported, not refused."""

    def test_truncated_last_lines_and_no_summary(self):
        (self.run_dir / "summary.json").unlink()
        self.cut_last_line("episodes.csv", 7)
        self.cut_last_line("updates.csv", 12)
        # the last probe snapshot got only 20 of its 32 rows out, the 21st cut short
        probes = (self.run_dir / "probes.csv").read_text().split("\n")
        (self.run_dir / "probes.csv").write_text("\n".join(probes[:1 + 8 * 32 + 20])
                                                 + "\n40,20,0.1")
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("episodes.csv:41: incomplete last line ignored", r.stderr)
        self.assertIn("updates.csv:196: incomplete last line ignored", r.stderr)
        page = self.page.read_text(encoding="utf-8")
        key, _, text = status_banner(page)
        self.assertEqual(key, "no-summary")
        self.assertIn("no summary: the run did not finish (still running, killed, or the disk "
                      "filled)", text.lower())
        self.assertIn("(from eval.csv)", page)  # solved step found in the logs instead
        for fig_id in ALL_FIGURES:
            self.assertIn(f'id="{fig_id}"', page)
        figs = report.build_figures(self.run_dir)
        self.assertEqual(len(figs["fig-learning-curve"].data[0].x), 39)
        self.assertEqual(len(figs["fig-q-vs-target"].data[0].x), 194)
        z = figs["fig-probe-policy"].data[0].z
        self.assertEqual(len(z[0]), 9)
        self.assertIsNotNone(z[19][-1])
        self.assertIsNone(z[20][-1])  # the cut row is not half-read
        self.assertIsNone(z[31][-1])

    def test_missing_optional_files_say_not_recorded(self):
        for name in ("probes.csv", "eval.csv", "progress.csv", "summary.json", "updates.csv"):
            (self.run_dir / name).unlink()
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(set(report.build_figures(self.run_dir)), {"fig-learning-curve"})
        page = self.page.read_text(encoding="utf-8")
        self.assertIn('id="fig-learning-curve"', page)
        for fig_id in ALL_FIGURES - {"fig-learning-curve"}:
            self.assertNotIn(f'id="{fig_id}"', page)
            self.assertIn(f'data-figure="{fig_id}"', page)
        for name in ("probes.csv", "eval.csv", "progress.csv", "updates.csv"):
            self.assertIn(f"not recorded ({name} is missing)", page)

    def test_a_run_that_just_started(self):
        """Headers only, or not even those (stdio buffers never flushed)."""
        for name in ("episodes.csv", "updates.csv", "eval.csv"):
            path = self.run_dir / name
            path.write_text(path.read_text().split("\n")[0] + "\n")
        for name in ("probes.csv", "progress.csv"):
            (self.run_dir / name).write_text("")
        (self.run_dir / "summary.json").unlink()
        r = run_report(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("probes.csv: empty file", r.stderr)
        page = self.page.read_text(encoding="utf-8")
        self.assertIn("no episode finished yet", page)
        self.assertEqual(page.count("Plotly.newPlot("), 0)

    def test_updates_csv_with_only_the_contract_columns(self):
        path = self.run_dir / "updates.csv"
        path.write_text("".join(",".join(line.split(",")[:5]) + "\n"
                                for line in path.read_text().splitlines()))
        figs = report.build_figures(self.run_dir)
        self.assertEqual(set(figs), ALL_FIGURES - {"fig-grad-norms"})
        self.assertEqual(run_report(self.run_dir).returncode, 0)
        self.assertNotIn("fig-grad-norms", self.page.read_text(encoding="utf-8"))

    def test_a_diverged_critic_is_drawn_with_gaps(self):
        self.edit_line("updates.csv", 10, lambda l: ",".join([l.split(",")[0], "nan", "-inf"]
                                                             + l.split(",")[3:]))
        figs = report.build_figures(self.run_dir)
        critic, actor = figs["fig-losses"].data
        self.assertIsNone(critic.y[8])
        self.assertIsNone(actor.y[8])
        self.assertIsNotNone(critic.y[9])
        self.assertEqual(run_report(self.run_dir).returncode, 0)
        self.assertNotIn("NaN", self.page.read_text(encoding="utf-8").split("</script>", 1)[1])


class LongRuns(unittest.TestCase):
    """100,000 episodes (256 envs), 100,000 update windows, 2,000 probe snapshots: every
    trace stays small."""

    N = 100_000

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="report-long-"))
        shutil.copyfile(FIXTURE / "config.json", cls.tmp / "config.json")
        cls.ret = [-1500 + 1400 * (1 - math.exp(-i / 20000)) + (i % 7) * 10
                   for i in range(cls.N)]
        with open(cls.tmp / "episodes.csv", "w") as f:
            f.write("episode,env,return,length,global_step,wall_s\n")
            for i, r in enumerate(cls.ret):
                step = 200 * 256 * (i // 256 + 1)
                f.write(f"{i + 1},{i % 256},{r:.6g},200,{step},{step / 1e5:.4f}\n")
        cls.q = [-(i % 1000) / 10 for i in range(cls.N)]
        with open(cls.tmp / "updates.csv", "w") as f:
            f.write("update,critic_loss,actor_loss,q_mean,y_mean\n")
            for i, q in enumerate(cls.q):
                f.write(f"{4 * (i + 1)},1.5,{-q:.6g},{q:.6g},{q - 0.5:.6g}\n")
        with open(cls.tmp / "probes.csv", "w") as f:  # 2,000 snapshots of 4 probes
            f.write("episode,probe,action,q\n")
            for e in range(50, 50 * 2001, 50):
                f.write("".join(f"{e},{p},{p / 4 - 0.5},{-e / 1000}\n" for p in range(4)))
        cls.figs = report.build_figures(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_trace_has_fewer_than_10000_points(self):
        self.assertIn("fig-learning-curve", self.figs)
        self.assertIn("fig-q-vs-target", self.figs)
        for fig_id, fig in self.figs.items():
            for trace in fig.data:
                self.assertLess(len(trace.x), 10_000, (fig_id, trace.name))
                if trace.type == "scatter":  # averaged, not thrown away
                    self.assertGreater(len(trace.x), 1_000, (fig_id, trace.name))

    def test_blocks_are_means_ending_at_their_last_row(self):
        lc = self.figs["fig-learning-curve"].data[0]
        k = math.ceil(self.N / report.MAX_POINTS)
        self.assertEqual(lc.name, f"Return (mean of {k} episodes)")
        self.assertEqual(lc.x[0], k)
        self.assertEqual(lc.x[-1], self.N)  # the last episode is in the plot
        self.assertAlmostEqual(lc.y[0], sum(self.ret[:k]) / k, delta=1e-3)
        self.assertAlmostEqual(lc.y[-1], sum(self.ret[-k:]) / k, delta=1e-3)
        q = next(t for t in self.figs["fig-q-vs-target"].data if t.name == "Q(s,a) mean")
        self.assertEqual(q.x[0], 4 * k)
        self.assertAlmostEqual(q.y[0], sum(self.q[:k]) / k, places=4)

    def test_probe_snapshots_are_thinned_evenly(self):
        hm = self.figs["fig-probe-q"].data[0]
        self.assertEqual(len(hm.x), report.MAX_SNAPSHOTS)
        self.assertEqual((hm.x[0], hm.x[-1]), (50, 50 * 2000))  # first and last kept
        self.assertEqual(len(set(hm.x)), len(hm.x))
        self.assertEqual([row[-1] for row in hm.z], [-100.0] * 4)

    def test_page_of_a_long_run(self):
        out = self.tmp / "long.html"
        r = run_report(self.tmp, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(out.stat().st_size, 12_000_000)


if __name__ == "__main__":
    unittest.main()
