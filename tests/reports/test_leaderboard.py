"""The leaderboard from eval reports: Markdown, CSV, and the HTML page opened in headless Chromium."""

from __future__ import annotations

import csv
import html.parser
import json

import pytest

from polyglot_kd import __version__
from polyglot_kd.cli import main
from polyglot_kd.reports import browser, leaderboard, leaderboard_results
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
        "e5-small-enpt": {"path": "b", "params": 39_648_768, "retrieval": retrieval(0.925, 0.99), "speedup": 1.7},
        "trim": {"path": "m", "params": 28_801_536, "retrieval": retrieval(0.922, 0.99)},
    }, release_speedup=1.05)
    # sw carries a task another stage might add: one metrics dict per dataset, and a flat one; and the
    # trained POS task as `polyglot-kd eval` merges it: {method: {test language: summary}}
    write_report(workdir, "sw", {
        "teacher": {"path": "t", "params": 117_505_920, "retrieval": retrieval(0.883, 0.933),
                    "pos": {"ud-test": {"f1": 0.80, "n": 500}}, "xnli": {"accuracy": 0.70}, "notes": "free text",
                    "udpos": {"lt-sft": {"tr": trained(0.75, 0.004), "id": trained(0.80, 0.01)}}},
        "trim": {"path": "m", "params": 28_801_536, "retrieval": retrieval(0.883, 0.908),
                 "pos": {"ud-test": {"f1": 0.76, "n": 500}}, "xnli": {"accuracy": 0.63},
                 "udpos": {"lt-sft": {"tr": trained(0.593, 0.006), "id": trained(0.739, 0.006)},
                             "adapters": {"tr": trained(0.61, None)}}},
    })
    return workdir


def trained(mean, std):
    """A trained task's summary as `tasks.results.summary` writes it into the report."""
    out = {"metric": "accuracy", "mean": mean, "seeds": [1, 2, 3], "dev_mean": mean + 0.05,
           "trained_share": 0.5, "stored_share": 0.05}
    return out | ({"std": std} if std is not None else {})


def test_rows_columns_and_retention(reports):
    rows, columns = leaderboard.collect(reports)
    assert [(r.language, r.model) for r in rows] == [("pt", "teacher"), ("pt", "e5-small-enpt"), ("pt", "trim"),
                                                     ("sw", "teacher"), ("sw", "trim")]
    assert columns == ["retrieval/bible-test", "retrieval/udhr", "pos/ud-test", "xnli",
                       "udpos/lt-sft/tr", "udpos/lt-sft/id", "udpos/adapters/tr"]
    pt_trim, sw_trim = rows[2], rows[4]
    assert pt_trim.speedup == 1.05 and sw_trim.speedup is None and rows[0].speedup == 1.0
    assert rows[1].speedup == 1.7  # timed at evaluation
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
    assert {str(p.relative_to(out)) for p in written} == {
        "leaderboard.md", "leaderboard.csv", "leaderboard.html", "leaderboard-size.png", "leaderboard-languages.png",
        "results/pt.json", "results/sw.json"}
    md = (out / "leaderboard.md").read_text()
    assert "| language | model | params | compression | speed-up | retrieval bible-test | vs teacher |" in md
    assert "| pt | trim | 28.80M | 4.08x | 1.05x | 92.2 | 99.7% | 99.0 | 100.0% |" in md
    assert "| sw | trim | 28.80M | 4.08x |  | 88.3 | 100.0% | 90.8 | 97.3% | 76.0 | 95.0% | 63.0 | 90.0% |" in md
    assert "![leaderboard-size](leaderboard-size.png)" in md
    assert "timed side by side at evaluation" in md and "`polyglot-kd leaderboard --from-results`" in md
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


def test_trained_task_columns_show_mean_and_std(reports, tmp_path):
    rows, _ = leaderboard.collect(reports)
    sw_trim = rows[4]
    assert sw_trim.scores["udpos/lt-sft/tr"] == 0.593 and sw_trim.spread["udpos/lt-sft/tr"] == 0.006
    assert sw_trim.retention["udpos/lt-sft/tr"] == pytest.approx(0.593 / 0.75)
    assert "udpos/adapters/tr" not in sw_trim.retention  # the teacher has no adapters run
    out = tmp_path / "eval"
    leaderboard.write_leaderboard(reports, out)
    md = (out / "leaderboard.md").read_text()
    assert "| udpos lt-sft tr | vs teacher | udpos lt-sft id | vs teacher | udpos adapters tr | vs teacher |" in md
    assert "| 63.0 | 90.0% | 59.3 ± 0.6 | 79.1% | 73.9 ± 0.6 | 92.4% | 61.0 |  |" in md  # sw trim
    assert "| 70.0 | 100.0% | 75.0 ± 0.4 | 100.0% | 80.0 ± 1.0 | 100.0% |  |  |" in md  # sw teacher
    with (out / "leaderboard.csv").open() as f:
        sw = list(csv.DictReader(f))[4]
    assert float(sw["udpos/lt-sft/tr"]) == 0.593 and float(sw["udpos/lt-sft/tr/std"]) == 0.006
    assert float(sw["udpos/lt-sft/tr/retention"]) == pytest.approx(0.593 / 0.75, abs=1e-6)
    assert sw["udpos/adapters/tr"] == "0.61" and sw["udpos/adapters/tr/std"] == ""


def files_of(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_board_regenerates_from_its_result_files_byte_for_byte(reports, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    leaderboard.write_leaderboard(reports, first)
    kept = json.loads((first / "results" / "sw.json").read_text())
    assert kept["format"] == leaderboard_results.RESULTS_FORMAT and kept["version"] == __version__
    assert kept["report"]["models"]["trim"]["retrieval"]["udhr"]["mean"] == 0.908
    assert json.loads((first / "results" / "pt.json").read_text())["release"] == {
        "model": "trim", "speed": {"speedup": 1.05}}
    assert main(["leaderboard", "--from-results", str(first / "results"), "--out", str(second)]) == 0
    built, regenerated = files_of(first), files_of(second)
    assert len(built) == 7 and built == regenerated
    # in place, as the published board is regenerated: the same bytes again
    assert main(["leaderboard", "--from-results", "--out", str(first)]) == 0
    assert files_of(first) == built
    kept = json.loads((first / "results" / "pt.json").read_text())
    assert all("path" not in entry for entry in kept["report"]["models"].values())  # no local paths kept


def test_result_files_of_builds_no_longer_there_are_removed(reports, tmp_path):
    out = tmp_path / "eval"
    leaderboard.write_leaderboard(reports, out)
    import shutil

    shutil.rmtree(reports / "sw")
    leaderboard.write_leaderboard(reports, out)
    assert sorted(p.name for p in (out / "results").iterdir()) == ["pt.json"]
    assert "| sw |" not in (out / "leaderboard.md").read_text()


@pytest.mark.parametrize("change, message", [
    ({"version": "0.0.1"}, r"results/sw.json was written by polyglot-kd 0.0.1 \(result format 1\); this is polyglot-kd "
                           + __version__.replace(".", r"\.")),
    ({"format": 99}, r"results/sw.json was written by polyglot-kd .* \(result format 99\); .*\(format 1\)"),
])
def test_a_result_file_of_another_version_is_refused_before_writing(reports, tmp_path, capsys, change, message):
    leaderboard.write_leaderboard(reports, tmp_path / "first")
    path = tmp_path / "first" / "results" / "sw.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | change))
    with pytest.raises(PolyglotError, match=message):
        leaderboard.write_from_results(path.parent, tmp_path / "second")
    assert main(["leaderboard", "--from-results", str(path.parent), "--out", str(tmp_path / "second")]) == 2
    assert "sw.json" in capsys.readouterr().err
    assert not (tmp_path / "second").exists()


@pytest.mark.parametrize("text, message", [
    ("{not json", "cannot read leaderboard result file .*pt.json"),
    ("[1, 2]", "pt.json is not a leaderboard result file"),
    (json.dumps({"format": 1, "version": __version__, "build": "pt", "release": {}, "report": {}}),
     "evaluation report .*pt.json has no 'models' table"),
    (json.dumps({"format": 1, "version": __version__, "build": "sw", "release": {}, "report": {"models": {"t": {}}}}),
     "pt.json is malformed: its 'build' must be the file's name"),
])
def test_a_malformed_result_file_is_named(reports, tmp_path, text, message):
    leaderboard.write_leaderboard(reports, tmp_path / "first")
    (tmp_path / "first" / "results" / "pt.json").write_text(text)
    with pytest.raises(PolyglotError, match=message):
        leaderboard.write_from_results(tmp_path / "first" / "results", tmp_path / "second")
    assert not (tmp_path / "second").exists()


def test_no_result_files_is_a_clear_error(tmp_path):
    with pytest.raises(PolyglotError, match="no leaderboard result files"):
        leaderboard.write_from_results(tmp_path, tmp_path / "out")


def test_help_explains_both_modes(capsys):
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--from-results" in text and "byte for byte" in text and "--workdir" in text


class TableReader(html.parser.HTMLParser):
    """Rows of the #board table body, its headings, the #status text and the <img> sources of a page;
    `shown` / `shown_heads`: the same without what the page's filters hid."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.status, self._where = [], [], "", None
        self.heads, self.shown, self.shown_heads, self._hidden_row, self._in_cell = [], [], [], False, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        hidden = "hidden" in attrs
        if tag == "tr" and self._where == "tbody":
            self.rows.append([])
            self._hidden_row = hidden
            if not hidden:
                self.shown.append([])
        elif tag == "tbody":
            self._where = "tbody"
        elif tag == "td" and self._where == "tbody":
            self.rows[-1].append("")
            self._in_cell, self._cell_shown = True, not (hidden or self._hidden_row)
            if self._cell_shown:
                self.shown[-1].append("")
        elif tag == "th":
            self.heads.append(attrs.get("data-key"))
            if not hidden:
                self.shown_heads.append(attrs.get("data-key"))
        elif tag == "p" and attrs.get("id") == "status":
            self._where = "status"
        elif tag == "img":
            self.images.append(attrs.get("src", ""))

    def handle_endtag(self, tag):
        if tag in ("tbody", "p"):
            self._where = None
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._where == "tbody" and self._in_cell:
            self.rows[-1][-1] += data
            if self._cell_shown:
                self.shown[-1][-1] += data
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

    # the trained task's columns, and the filters applied from the address
    assert plain.rows[4][-6:] == ["59.3 ± 0.6", "79.1%", "73.9 ± 0.6", "92.4%", "61.0", ""]
    assert plain.shown == plain.rows and plain.shown_heads == plain.heads
    sw_pos = read_page(browser.dump_dom(browser.page_url(page, "lang=sw&task=udpos&sort=udpos/lt-sft/tr")))
    assert sw_pos.status == "2 of 5 rows (language sw, task udpos), sorted by udpos/lt-sft/tr (ascending)"
    assert sw_pos.shown_heads == ["language", "model", "params", "compression", "speedup", "udpos/lt-sft/tr",
                                  "udpos/lt-sft/tr retention", "udpos/lt-sft/id", "udpos/lt-sft/id retention",
                                  "udpos/adapters/tr", "udpos/adapters/tr retention"]
    assert [r[:2] + r[5:7] for r in sw_pos.shown] == [["sw", "trim", "59.3 ± 0.6", "79.1%"],
                                                       ["sw", "teacher", "75.0 ± 0.4", "100.0%"]]
    # a task the pt rows have no score for hides them; the language filter alone keeps every column
    assert [r[:2] for r in read_page(browser.dump_dom(browser.page_url(page, "task=xnli"))).shown] == [
        ["sw", "teacher"], ["sw", "trim"]]
    pt = read_page(browser.dump_dom(browser.page_url(page, "lang=pt")))
    assert pt.status == "3 of 5 rows (language pt); click a column heading to sort"
    assert [r[1] for r in pt.shown] == ["teacher", "e5-small-enpt", "trim"] and pt.shown_heads == pt.heads
    assert pt.shown[1][4] == "1.70x"  # the speed-up timed at evaluation

    shot = browser.screenshot(browser.page_url(page), tmp_path / "page.png", width=900, height=700)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (700, 900)
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_the_published_board_is_what_its_kept_result_files_render(tmp_path):
    """eval/ in the repository: its tables come back byte for byte from eval/results/ (the PNGs and the
    page that embeds them depend on the installed matplotlib's rendering, so the text files are compared)."""
    from polyglot_kd.core.paths import repo_root

    published = repo_root() / "eval"
    leaderboard.write_from_results(published / "results", tmp_path)
    for name in ("leaderboard.md", "leaderboard.csv"):
        assert (tmp_path / name).read_bytes() == (published / name).read_bytes(), name


def test_update_keeps_the_languages_not_built_here_and_replaces_the_others(reports, tmp_path):
    out = tmp_path / "eval"
    leaderboard.write_leaderboard(reports, out)
    elsewhere = tmp_path / "other-machine"
    write_report(elsewhere, "sw", {
        "teacher": {"path": "t", "params": 117_505_920, "retrieval": retrieval(0.883, 0.933)},
        "distill": {"path": "d", "params": 11_422_224, "retrieval": retrieval(0.869, 0.892), "speedup": 3.25}})
    write_report(elsewhere, "tr", {
        "teacher": {"path": "t", "params": 117_505_920, "retrieval": retrieval(0.808, 0.867)},
        "trim": {"path": "m", "params": 29_800_000, "retrieval": retrieval(0.81, 0.867)}})
    assert main(["leaderboard", "--update", "--workdir", str(elsewhere), "--out", str(out)]) == 0
    assert sorted(p.stem for p in (out / "results").glob("*.json")) == ["pt", "sw", "tr"]
    sw = json.loads((out / "results" / "sw.json").read_text())["report"]["models"]
    assert set(sw) == {"teacher", "distill"}  # the build here replaced the kept sw file
    board = (out / "leaderboard.md").read_text()
    assert "| pt |" in board and "| tr |" in board and "| 86.9 |" in board
    before = files_of(out)
    assert main(["leaderboard", "--from-results", "--out", str(out)]) == 0
    assert files_of(out) == before  # the updated board still regenerates from its files


def test_update_and_from_results_together_are_refused(reports, tmp_path, capsys):
    assert main(["leaderboard", "--update", "--from-results", "--workdir", str(reports),
                 "--out", str(tmp_path / "eval")]) == 2
    assert "give one or the other" in capsys.readouterr().err
