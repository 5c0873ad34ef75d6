import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from src.data.io import read_jsonl
from src.data.paths import ANNOTATIONS_DIR, RAW_ARTICLE
from src.data.schema import STANCES
from src.inference.html_page import NO_STANCE, PALETTE, STANCE_COLOURS, colours, page
from src.inference.rows import FIELDS
from tests.conftest import run_module

ARTICLE = ('عنوان: "الهدنة" <عاجل>\n'
           'قال المتحدث باسم الخارجية إن المفاوضات ستستأنف & تستمر.\n'
           '\n'
           'وأضاف "الائتلاف &amp; <b>الحلفاء</b>" أن القصف لن يمر "دون رد".\n'
           'نهاية الخبر')
SECOND = "أدان المرصد الهجوم\nوقال لافروف إن موسكو ترحب بالاتفاق"
VOID = {"meta", "br", "img", "link", "input", "hr"}


def made_up_row(file: str, text: str, statement: str, index: int, speaker: str | None = None,
                stance: str | None = "none", source: str = "model", **extra) -> dict:
    """A predict row for ``statement`` at its place in ``text``, its speaker's words within."""
    start = text.index(statement)
    speaker_start = None if speaker is None else text.index(speaker, start)
    row = dict.fromkeys(FIELDS)
    row.update(file=file, index=index, start=start, end=start + len(statement), text=statement,
               speaker=speaker, speaker_start=speaker_start,
               speaker_end=None if speaker is None else speaker_start + len(speaker),
               stance=stance, stance_source=None if stance is None else source,
               stance_score=0.81 if source == "model" and stance else None,
               sentiment="negative", sentiment_score=0.66, **extra)
    return row


def article_rows() -> list[dict]:
    return [
        made_up_row("a.txt", ARTICLE, 'قال المتحدث باسم الخارجية إن المفاوضات ستستأنف & تستمر.',
                    0, speaker="المتحدث باسم الخارجية", stance="regime", source="actor",
                    actor="وزارة الخارجية", camp="regime"),
        made_up_row("a.txt", ARTICLE, 'وأضاف "الائتلاف &amp; <b>الحلفاء</b>" أن القصف لن يمر '
                    '"دون رد".', 1, speaker='"الائتلاف &amp; <b>الحلفاء</b>"',
                    stance="opposition"),
    ]


class Elements(HTMLParser):
    """Every element of a page: its tag, attributes, text (entities resolved) and the tags
    (with classes) it sits in."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open, self.all = [], []
        self.feed(html)
        self.close()
        assert not self.open, "unclosed elements"

    def handle_starttag(self, tag, attrs):
        element = {**dict(attrs), "tag": tag, "text": "",
                   "inside": [f"{e['tag']}.{e.get('class', '')}" for e in self.open]}
        self.all.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        assert self.open.pop()["tag"] == tag

    def handle_data(self, data):
        for element in self.open:
            element["text"] += data

    def having(self, tag: str, css_class: str | None = None) -> list[dict]:
        return [e for e in self.all if e["tag"] == tag
                and (css_class is None or css_class in e.get("class", "").split())]


def background_of(html: str, css_class: str) -> str:
    return re.search(rf"\.{css_class} {{ background: ([^;]+);", html).group(1)


def test_page_is_arabic_right_to_left_and_self_contained():
    html = page(article_rows(), {"a.txt": ARTICLE})
    root = Elements(html).having("html")[0]
    assert html.startswith("<!DOCTYPE html>") and (root["lang"], root["dir"]) == ("ar", "rtl")
    assert '<meta charset="utf-8">' in html
    # Nothing fetched from anywhere, no script to run.
    assert not re.search(r"https?:|<script|<link|<img|\bsrc=|url\(|@import", html)


def test_article_is_kept_exactly_with_each_statement_highlighted_at_its_offsets():
    rows = article_rows()
    html = page(rows, {"a.txt": ARTICLE})
    elements = Elements(html)
    [article] = elements.having("div", "article")
    assert article["text"] == ARTICLE  # every character, line breaks and the empty line too
    marks = elements.having("mark", "statement")
    assert [m["text"] for m in marks] == [r["text"] for r in rows]
    assert [int(m["data-index"]) for m in marks] == [0, 1]
    speakers = elements.having("u", "speaker")
    assert [u["text"] for u in speakers] == ["المتحدث باسم الخارجية",
                                             '"الائتلاف &amp; <b>الحلفاء</b>"']
    assert all("mark.statement " + mark["class"].split()[1] in u["inside"]
               for u, mark in zip(speakers, marks, strict=True))
    # The markup in the text is text: escaped, never a tag of the page.
    assert not elements.having("b") and "&lt;b&gt;الحلفاء&lt;/b&gt;" in html
    assert "&amp;amp; " in html and "&amp; تستمر" in html and "&quot;دون رد&quot;" in html


def test_tooltip_holds_the_labels_scores_and_speaker():
    rows = article_rows()
    rows[1]["speaker"] = 'الائتلاف "الوطني" <السوري>'
    rows[1]["stance_scores"] = {"regime": 0.05, "opposition": 0.81, "none": 0.14}
    marks = Elements(page(rows, {"a.txt": ARTICLE})).having("mark", "statement")
    first, second = (m["title"].split("\n") for m in marks)
    assert first == ["#0", "stance: regime (the speaker's camp)", "sentiment: negative 0.66",
                     "speaker: المتحدث باسم الخارجية · actor: وزارة الخارجية · camp: regime"]
    assert second == ["#1", "stance: opposition (model 0.81)", "sentiment: negative 0.66",
                      "stance scores: regime 0.05, opposition 0.81, none 0.14",
                      'speaker: الائتلاف "الوطني" <السوري> · actor: — · camp: —']


def test_legend_shows_the_stances_present_in_their_colours():
    html = page(article_rows(), {"a.txt": ARTICLE})
    elements = Elements(html)
    assert [li["text"] for li in elements.having("li")] == ["regime (1)", "opposition (1)"]
    for swatch, mark, label in zip(elements.having("span", "swatch"),
                                   elements.having("mark", "statement"), ("regime", "opposition"),
                                   strict=True):
        css_class = swatch["class"].split()[1]
        assert css_class in mark["class"].split()
        assert background_of(html, css_class) == STANCE_COLOURS[label]
    assert set(STANCE_COLOURS) == set(STANCES)


def test_labels_of_a_models_own_get_palette_colours_of_their_own():
    labels = ["pro", "anti", "none", "neutral"]
    picked = colours(labels)
    assert picked["none"] == STANCE_COLOURS["none"]
    assert len(set(picked.values())) == 4
    assert {picked[x] for x in ("pro", "anti", "neutral")} <= set(PALETTE)
    many = colours([f"label {i}" for i in range(len(PALETTE))])
    assert sorted(many.values()) == sorted(PALETTE)  # distinct while the palette lasts
    text = "قال الوزير كلاما\nوقال آخر كلاما"
    rows = [made_up_row("own.txt", text, "قال الوزير كلاما", 0, stance="pro"),
            made_up_row("own.txt", text, "وقال آخر كلاما", 1, stance="anti")]
    html = page(rows, {"own.txt": text})
    marks = Elements(html).having("mark", "statement")
    # A page with fewer of the labels colours them as the page with all of them did.
    assert [background_of(html, m["class"].split()[1]) for m in marks] == [picked["pro"],
                                                                          picked["anti"]]


def test_several_files_one_section_each_and_rows_without_stance_or_speaker():
    rows = [made_up_row("b.txt", SECOND, "أدان المرصد الهجوم", 0, stance=None),
            made_up_row("b.txt", SECOND, "وقال لافروف إن موسكو ترحب بالاتفاق", 1, stance=None),
            made_up_row("a.txt", ARTICLE, "نهاية الخبر", 0, stance=None)]
    texts = {"a.txt": ARTICLE, "empty.txt": "", "b.txt": SECOND}
    html = page(rows, texts)
    elements = Elements(html)
    assert [h["text"] for h in elements.having("h2")] == list(texts)
    assert [a["text"] for a in elements.having("div", "article")] == list(texts.values())
    sections = html.split("<section>")[1:]
    assert [s.count('class="statement') for s in sections] == [1, 0, 2]
    assert not elements.having("u")
    assert [li["text"] for li in elements.having("li")] == [f"{NO_STANCE} (3)"]
    assert "stance:" not in elements.having("mark")[0]["title"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(chrome: str, html_file, png, profile) -> list[str]:
    """Screenshot ``html_file`` into ``png``; the console messages the page logged."""
    done = subprocess.run(
        [chrome, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
         f"--screenshot={png}", "--window-size=1200,1600", "--enable-logging=stderr", "--v=0",
         html_file.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None,
                    reason="no chromium binary on PATH (make setup installs it as root on Debian)")
def test_seed_article_page_renders_in_chromium(tiny_run, tmp_path):
    from PIL import Image

    done = run_module("-m", "src.predict", str(RAW_ARTICLE), "--format", "html",
                      "--model", str(tiny_run[0]))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    elements = Elements(done.stdout)
    assert elements.having("div", "article")[0]["text"] == RAW_ARTICLE.read_text(encoding="utf-8")
    seeds = read_jsonl(ANNOTATIONS_DIR / "seed.jsonl")
    assert [m["text"] for m in elements.having("mark", "statement")] == [s["text"] for s in seeds]

    # The console check must be able to see an error, or its silence proves nothing.
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><script>console.error('seen')</script>", encoding="utf-8")
    assert any("seen" in line for line in render(chromium(), control, tmp_path / "c.png",
                                                   tmp_path / "profile"))

    html_file, png = tmp_path / "out.html", tmp_path / "out.png"
    html_file.write_text(done.stdout, encoding="utf-8")
    assert render(chromium(), html_file, png, tmp_path / "profile") == []
    assert png.stat().st_size > 10_000
    image = Image.open(png).convert("RGB")
    assert image.size == (1200, 1600)
    shown = {colour for _, colour in image.getcolors(maxcolors=1200 * 1600)}
    assert len(shown) > 16
    # The statements' backgrounds are drawn.
    labels = [li["text"].rsplit(" ", 1)[0] for li in elements.having("li")]
    assert labels and all(
        tuple(int(colours(labels)[label][i:i + 2], 16) for i in (1, 3, 5)) in shown
        for label in labels)
