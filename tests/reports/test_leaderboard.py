"""The leaderboard from eval reports: Markdown, CSV, and the HTML page opened in headless Chromium."""

from __future__ import annotations

import csv
import html.parser
import json

import pytest

from polyglot_kd.reports import browser

from polyglot_kd.reports import leaderboard
from polyglot_kd.cli import main
from polyglot_kd.core.errors import PolyglotError


def retrieval(bible, udhr=None):
    out = {"bible-test": {"src2tgt": bible + 0.02, "tgt2src": bible - 0.02, "mean": bible, "n": 1000}}
    if udhr is not None:
        out["udhr"] = {"src2tgt": udhr, "tgt2src": udhr, "mean": udhr, "n": 60}
    return out


def write_report(workdir, lang, models, release_speedup=None):
    teacher_params = models["teacher"]["params"]
    for m in models.values():
        m["param_ratio"] = m["params"] / teacher_params
    (workdir / lang / "eval").mkdir(parents=True)
    report = {"language": lang, "source": "en", "task": "retrieval", "datasets": {"bible-test": 1000}, "models": models,
              "some_future_key": {"ignored": True}}
    (workdir / lang / "eval" / "report.json").write_text(json.dumps(report))
    if release_speedup:
        (workdir / lang / "release").mkdir()
        (workdir / lang / "release" / "manifest.json").write_text(json.dumps(
            {"stage": "release", "metrics": {"model": "trim", "speed": {"speedup": release_speedup}}}))


@pytest.fixture
def reports(tmp_path):
    workdir = tmp_path / "builds"
    write_report(workdir, "pt", {
        "teacher": {"path": "t", "params": 117_505_920, "retrieval": retrieval(0.925, 0.99)},
        "e5-small-enpt": {"path": "b", "params": 39_648_768, "retrieval": retrieval(0.925, 0.99)},
        "trim": {"path": "m", "params": 28_801_536, "retrieval": retrieval(0.922, 0.99)},
    }, release_speedup=1.05)
    # sw carries a task another stage might add: one metrics dict per dataset, and a flat one
    write_report(workdir, "sw", {
        "teacher": {"path": "t", "params": 117_505_920, "retrieval": retrieval(0.883, 0.933),
                    "pos": {"ud-test": {"f1": 0.80, "n": 500}}, "xnli": {"accuracy": 0.70}, "notes": "free text"},
        "trim": {"path": "m", "params": 28_801_536, "retrieval": retrieval(0.883, 0.908),
                 "pos": {"ud-test": {"f1": 0.76, "n": 500}}, "xnli": {"accuracy": 0.63}},
    })
    return workdir


def test_rows_columns_and_retention(reports):
    rows, columns = leaderboard.collect(reports)
    assert [(r.language, r.model) for r in rows] == [("pt", "teacher"), ("pt", "e5-small-enpt"), ("pt", "trim"),
                                                     ("sw", "teacher"), ("sw", "trim")]
    assert columns == ["retrieval/bible-test", "retrieval/udhr", "pos/ud-test", "xnli"]
    pt_trim, sw_trim = rows[2], rows[4]
    assert pt_trim.speedup == 1.05 and sw_trim.speedup is None and rows[0].speedup == 1.0
    assert pt_trim.compression == pytest.approx(117_505_920 / 28_801_536)
    assert pt_trim.retention["retrieval/bible-test"] == pytest.approx(0.922 / 0.925)
    assert sw_trim.retention["pos/ud-test"] == pytest.approx(0.95) and sw_trim.scores["xnli"] == 0.63
    assert "pos/ud-test" not in pt_trim.scores


def test_an_int8_export_is_a_row_of_its_own(reports):
    manifest = reports / "pt" / "release" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["metrics"]["int8"] = {"speedup": 4.2, "scores": retrieval(0.915, 0.98)}
    manifest.write_text(json.dumps(data))
    rows, _ = leaderboard.collect(reports)
    int8 = next(r for r in rows if r.model == "trim-int8")
    assert int8.language == "pt" and int8.speedup == 4.2 and int8.params == 28_801_536
    assert int8.retention["retrieval/bible-test"] == pytest.approx(0.915 / 0.925)


def test_markdown_and_csv(reports, tmp_path):
    out = tmp_path / "eval"
    written = leaderboard.write_leaderboard(reports, out)
    assert {p.name for p in written} == {"leaderboard.md", "leaderboard.csv", "leaderboard.html",
                                         "leaderboard-size.png", "leaderboard-languages.png"}
    md = (out / "leaderboard.md").read_text()
    assert "| language | model | params | compression | speed-up | retrieval bible-test | vs teacher |" in md
    assert "| pt | trim | 28.80M | 4.08x | 1.05x | 92.2 | 99.7% | 99.0 | 100.0% |" in md
    assert "| sw | trim | 28.80M | 4.08x |  | 88.3 | 100.0% | 90.8 | 97.3% | 76.0 | 95.0% | 63.0 | 90.0% |" in md
    assert "![leaderboard-size](leaderboard-size.png)" in md
    with (out / "leaderboard.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 5
    sw = table[4]
    assert sw["language"] == "sw" and sw["model"] == "trim" and sw["params"] == "28801536"
    assert float(sw["retrieval/udhr"]) == 0.908 and float(sw["retrieval/udhr/retention"]) == pytest.approx(0.908 / 0.933, abs=1e-6)
    assert sw["speedup"] == "" and table[2]["speedup"] == "1.05"
    assert (out / "leaderboard-size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_reports_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(PolyglotError, match="no evaluation reports under"):
        leaderboard.collect(tmp_path)
    assert main(["leaderboard", "--workdir", str(tmp_path), "--out", str(tmp_path / "eval")]) == 2
    assert "no evaluation reports" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()


def test_broken_report_is_named(reports):
    (reports / "pt/eval/report.json").write_text("{not json")
    with pytest.raises(PolyglotError, match="pt/eval/report.json"):
        leaderboard.collect(reports)


class TableReader(html.parser.HTMLParser):
    """Rows of the #board table body, the #status text and the <img> sources of a page."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.status, self._where = [], [], "", None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and self._where == "tbody":
            self.rows.append([])
        elif tag == "tbody":
            self._where = "tbody"
        elif tag == "td" and self._where == "tbody":
            self.rows[-1].append("")
        elif tag == "p" and attrs.get("id") == "status":
            self._where = "status"
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("tbody", "p"):
            self._where = None

    def handle_data(self, data):
        if self._where == "tbody" and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data
        elif self._where == "status":
            self.status += data


def read_page(dom: str) -> TableReader:
    reader = TableReader()
    reader.feed(dom)
    return reader


@pytest.mark.skipif(browser.find_chromium() is None,
                    reason="chromium is not installed (apt-get install -y chromium; scripts/setup.sh does it)")
def test_html_page_in_headless_chromium(reports, tmp_path):
    out = tmp_path / "eval"
    leaderboard.write_leaderboard(reports, out)
    page = out / "leaderboard.html"

    plain = read_page(browser.dump_dom(browser.page_url(page)))
    assert plain.status == "5 rows; click a column heading to sort"  # the script ran
    assert [r[:2] for r in plain.rows] == [["pt", "teacher"], ["pt", "e5-small-enpt"], ["pt", "trim"], ["sw", "teacher"], ["sw", "trim"]]
    assert plain.rows[2][2:6] == ["28.80M", "4.08x", "1.05x", "92.2"]
    assert len(plain.images) == 2 and all(src.startswith("data:image/png;base64,") for src in plain.images)

    by_udhr = read_page(browser.dump_dom(browser.page_url(page, "sort=retrieval/udhr-desc")))
    assert by_udhr.status == "5 rows, sorted by retrieval/udhr (descending)"
    assert [r[7] for r in by_udhr.rows] == ["99.0", "99.0", "99.0", "93.3", "90.8"]
    by_pos = read_page(browser.dump_dom(browser.page_url(page, "sort=pos/ud-test")))
    assert [r[:2] for r in by_pos.rows][:2] == [["sw", "trim"], ["sw", "teacher"]]  # blanks (pt) sort last
    assert all(r[9] == "" for r in by_pos.rows[2:])

    shot = browser.screenshot(browser.page_url(page), tmp_path / "page.png", width=900, height=700)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (700, 900)
    assert pixels[..., :3].std() > 0.05  # not a blank page
