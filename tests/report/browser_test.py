#!/usr/bin/env python3
"""browser_test.py - the run report in a real headless browser (Debian's chromium), offline.

    python3 tests/report/browser_test.py [--keep DIR]     (or tests/report/browser_test.sh)

Writes the report of tests/fixtures/run_small, loads it in headless chromium with every
network request sent to a dead proxy, and checks, after its scripts ran:
  - every figure div holds plotly's drawing (main-svg) with as many scatter traces and
    heatmap images as build_figures() made for it;
  - no JavaScript error: window 'error' events (resource loads included), unhandled
    rejections and console.error calls, caught by a hook put first in <head>, plus
    "Uncaught" or failed loads in chromium's console log;
  - the screenshot (decoded here with zlib and struct) is not blank: many colours, and
    coloured (plot) pixels spread down the whole page.
Then the same checks must fail on a copy whose inlined plotly.js is replaced by a throw,
so a check that cannot fail fails the test. --keep DIR keeps the pages and screenshots.
Exit status 0 when all holds, 1 otherwise.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "run_small"
sys.path.insert(0, str(ROOT / "scripts"))
import report  # noqa: E402

WIDTH, HEIGHT = 1280, 5600  # CSS px; the fixture's page is about 4,900 px tall
BAND = 200  # screenshot rows per band when looking for plot pixels
CHROME_TIMEOUT_S = 90

# First thing in <head>: records every error into an attribute that --dump-dom shows.
HOOK = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  __errors.push('error: ' + (e.message || ('failed to load ' + (t.src || t.href || t.tagName))));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  __errors.push('unhandled rejection: ' + e.reason);
});
(function () {
  var ce = console.error;
  console.error = function () {
    __errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    ce.apply(console, arguments);
  };
})();
window.addEventListener('load', function () {
  setTimeout(function () {
    document.documentElement.setAttribute('data-js-errors', JSON.stringify(__errors));
  }, 300);
});
</script>
"""


def find_chromium():
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def run_chromium(chromium, page, png, profile):
    """Loads page, lets its scripts run, returns (dumped DOM, browser log); writes png."""
    # --no-sandbox: chromium's sandbox refuses root and needs namespaces that CI
    # containers often lack; the page is one this test just wrote
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
            f"--user-data-dir={profile}",
            # offline: any request goes to a dead proxy, any name resolves to nothing
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0",
            f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=15000",
            f"--screenshot={png}", "--dump-dom", page.as_uri()]
    p = subprocess.run(args, capture_output=True, text=True, timeout=CHROME_TIMEOUT_S,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"chromium exited {p.returncode}:\n{p.stderr[-3000:]}")
    return p.stdout, p.stderr


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # HTML elements without an end tag


class FigureCensus(html.parser.HTMLParser):
    """Per figure div (id fig-*): main-svg count, scatter trace groups, heatmap images."""

    def __init__(self):
        super().__init__()
        self.figs, self.stack, self.errors_attr = {}, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.errors_attr = a.get("data-js-errors")
        fig = self.stack[-1][1] if self.stack else None
        if tag == "div" and (a.get("id") or "").startswith("fig-"):
            fig = a["id"]
            self.figs[fig] = {"main-svg": 0, "scatter": 0, "heatmap": 0, "image": 0}
        cls = (a.get("class") or "").split()
        if fig is not None:
            counts = self.figs[fig]
            counts["main-svg"] += tag == "svg" and "main-svg" in cls
            counts["scatter"] += tag == "g" and cls[:2] == ["trace", "scatter"]
            counts["heatmap"] += tag == "g" and cls == ["hm"]
            counts["image"] += tag == "image" and bool(a.get("href") or a.get("xlink:href"))
        if tag not in VOID:
            self.stack.append((tag, fig))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed void-ish tags
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return


def decode_png(path):
    """(width, height, rows of RGB(A) bytes, bytes per pixel); 8-bit, non-interlaced."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError(f"{path}: unsupported PNG (depth {depth}, type {ctype})")
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw, bpp = zlib.decompress(b"".join(idat)), 3 if ctype == 2 else 4
    stride, prev, rows = w * bpp, bytearray(w * bpp), []
    for y in range(h):  # PNG spec 9.2: undo the per-row filter
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def screenshot_stats(png):
    """Distinct colours (every 2nd pixel of every 2nd row), and per BAND-row band the count
    of saturated pixels: the page's chrome is white and gray, plots are coloured."""
    w, h, rows, bpp = decode_png(png)
    colours, bands = set(), [0] * ((h + BAND - 1) // BAND)
    for y in range(0, h, 2):
        row = rows[y]
        for x in range(0, w * bpp, 2 * bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r, g, b))
            if max(r, g, b) - min(r, g, b) > 60:
                bands[y // BAND] += 1
    return {"size": (w, h), "colours": len(colours), "bands": bands}


def check_page(chromium, page, expected, workdir, tag):
    """Loads an instrumented copy of page; returns (problems, screenshot path, stats)."""
    text = page.read_text(encoding="utf-8")
    hooked = workdir / f"{tag}.html"
    hooked.write_text(text.replace("<head>", "<head>\n" + HOOK, 1), encoding="utf-8")
    png = workdir / f"{tag}.png"
    dom, log = run_chromium(chromium, hooked, png, workdir / f"profile-{tag}")
    problems = []

    census = FigureCensus()
    census.feed(dom)
    if census.errors_attr is None:
        problems.append("the error hook never reported (page did not finish loading?)")
    elif json.loads(census.errors_attr):
        problems += [f"JavaScript: {e}" for e in json.loads(census.errors_attr)]
    for line in log.splitlines():
        if ":CONSOLE" in line and re.search(r"Uncaught|Failed to load|net::ERR_", line):
            problems.append(f"browser console: {line.strip()[-300:]}")
    for fig, (n_scatter, n_heatmap) in expected.items():
        got = census.figs.get(fig)
        if got is None:
            problems.append(f"{fig}: figure div missing from the DOM")
            continue
        if got["main-svg"] == 0:
            problems.append(f"{fig}: plotly drew nothing (no main-svg)")
        if got["scatter"] != n_scatter:
            problems.append(f"{fig}: {got['scatter']} scatter traces drawn, {n_scatter} expected")
        if got["heatmap"] != n_heatmap or got["image"] < n_heatmap:
            problems.append(f"{fig}: {got['heatmap']} heatmaps ({got['image']} images) drawn, "
                            f"{n_heatmap} expected")

    stats = screenshot_stats(png)
    # each figure is ~450 px of axes, lines and colour scales, so a page whose plots drew
    # has coloured pixels in well over 1.5 bands per figure; a text-only page has none
    coloured = sum(n >= 50 for n in stats["bands"])
    if stats["colours"] < 1000:
        problems.append(f"screenshot: only {stats['colours']} distinct colours (blank page?)")
    if coloured < 1.5 * len(expected):
        problems.append(f"screenshot: only {coloured} bands of {BAND} px show plot colours, "
                        f"{1.5 * len(expected):g} expected for {len(expected)} figures")
    return problems, png, stats


def broken_copy(page, workdir):
    """The report with plotly.js replaced by a throw: every check above should fail."""
    text = page.read_text(encoding="utf-8")
    start = text.rindex("<script", 0, text.index("* plotly.js v"))
    end = text.index("</script>", start) + len("</script>")
    bad = workdir / "broken_report.html"
    bad.write_text(text[:start] + "<script>throw new Error('plotly.js removed for the "
                   "negative control');</script>" + text[end:], encoding="utf-8")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", metavar="DIR", help="keep pages and screenshots in DIR")
    args = ap.parse_args()
    t0 = time.monotonic()
    chromium = find_chromium()
    if chromium is None:
        print("browser_test: FAIL: chromium not found (run scripts/setup.sh, or set CHROMIUM)")
        return 1
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="report-browser-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        page = workdir / "report.html"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), "--quiet",
                        str(FIXTURE), "-o", str(page)], check=True)
        if re.search(r"<script[^>]*\ssrc\s*=", page.read_text(encoding="utf-8")):
            print("browser_test: FAIL: the page loads a script from outside")
            return 1
        expected = {fig: (sum(t.type == "scatter" for t in f.data),
                          sum(t.type == "heatmap" for t in f.data))
                    for fig, f in report.build_figures(FIXTURE).items()}

        problems, png, stats = check_page(chromium, page, expected, workdir, "report")
        print(f"browser_test: {len(expected)} figures, screenshot {stats['size'][0]}x"
              f"{stats['size'][1]} with {stats['colours']} colours"
              + (f" -> {png}" if args.keep else ""))
        for p in problems:
            print(f"  problem: {p}")

        control, _, _ = check_page(chromium, broken_copy(page, workdir), expected, workdir,
                                   "control")
        caught = {"JavaScript": any(p.startswith("JavaScript") for p in control),
                  "figures": any("plotly drew nothing" in p for p in control),
                  "screenshot": any(p.startswith("screenshot") for p in control)}
        missed = [k for k, v in caught.items() if not v]
        print(f"browser_test: negative control (plotly.js removed): {len(control)} problems "
              f"found, caught by the {', '.join(k for k, v in caught.items() if v)} checks")
        if missed:
            print(f"  problem: the negative control (no plotly.js) was not caught by the "
                  f"{', '.join(missed)} check(s)")
        ok = not problems and not missed
        print(f"browser_test: {'OK' if ok else 'FAIL'} ({time.monotonic() - t0:.1f} s)")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
