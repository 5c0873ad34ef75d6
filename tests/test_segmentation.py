from src.data.io import read_jsonl
from src.data.paths import ANNOTATIONS_DIR, RAW_ARTICLE
from src.text.segmentation import split_lines, split_statements


def test_seed_article_splits_into_the_annotated_seed_statements():
    source = RAW_ARTICLE.read_text(encoding="utf-8")
    spans = split_statements(source)
    seeds = read_jsonl(ANNOTATIONS_DIR / "seed.jsonl")
    assert [s.text for s in spans] == [r["text"] for r in seeds]
    assert all(source[s.start:s.end] == s.text for s in spans)


def test_dateline_is_not_part_of_the_statement():
    source = "دمشق - أعلنت الوزارة افتتاح المعبر. وقال المدير إن العمل سيبدأ غدا."
    spans = split_statements(source)
    assert [s.text for s in spans] == ["أعلنت الوزارة افتتاح المعبر.",
                                       "وقال المدير إن العمل سيبدأ غدا."]
    assert spans[0].start == source.index("أعلنت")


def test_terminators_inside_quotes_do_not_split():
    source = 'وقال "لن نتراجع. المعركة مستمرة!" ثم غادر. وأضاف «هل يعقل هذا؟ لا» وصمت.'
    texts = [s.text for s in split_statements(source)]
    assert texts == ['وقال "لن نتراجع. المعركة مستمرة!" ثم غادر.', "وأضاف «هل يعقل هذا؟ لا» وصمت."]


def test_arabic_question_mark_and_numbers():
    source = "هل انتهت الحرب؟ بلغت النسبة 2.5 بالمئة في أستانا.12 وفق التقرير."
    texts = [s.text for s in split_statements(source)]
    assert texts == ["هل انتهت الحرب؟", "بلغت النسبة 2.5 بالمئة في أستانا.12 وفق التقرير."]


def test_split_lines_keeps_offsets_and_skips_blank_lines():
    source = "  أولا  \n\nثانيا\r\n"
    spans = split_lines(source)
    assert [(s.text, source[s.start:s.end]) for s in spans] == [("أولا", "أولا"),
                                                                ("ثانيا", "ثانيا")]
