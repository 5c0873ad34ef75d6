import csv
import io
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from src import predict
from src.core.config import CONFIG_DIR
from src.data.io import read_jsonl
from src.data.paths import SPLIT_FILES
from src.data.schema import STANCES
from src.evaluation.report import evaluate, paired_difference
from src.evaluation.speakers import evaluate_speakers, gold_readings, read_articles, real_articles
from src.inference.rows import FIELDS as OUTPUT_FIELDS
from src.inference.speakers import Speakers, decide
from src.text.attribution import ActorList
from src.text.rule_spans import RuleSpans
from src.text.speaker_words import FEMININE, MASCULINE, PLURAL, cue_agreement
from src.text.tagged import Span, Tagged


@pytest.fixture(scope="module")
def actors():
    return ActorList.load()


def tagged(text: str, speaker: str | None = None, cue: str | None = None) -> Tagged:
    """A tagger's output for ``text``: the first occurrence of each phrase."""

    def at(phrase):
        if phrase is None:
            return None
        start = text.index(phrase)
        return Span(start, start + len(phrase), 1.0)

    return Tagged(at(speaker), at(cue))


def read(actors, article: list[tuple[str, str | None, str | None]], policy="agree"):
    """Readings of (text, speaker phrase, cue) statements, spans given as a tagger would."""
    texts = [text for text, _, _ in article]
    return Speakers(actors, policy=policy).read(
        texts, [tagged(text, speaker, cue) for text, speaker, cue in article])


def test_list_links_the_longest_normalised_match(actors):
    reading = read(actors, [("وقال وزير الخارجية الروسي سيرغي لافروف إن الحل سياسي",
                             "سيرغي لافروف", "وقال")])[0]
    assert (reading.actor, reading.camp, reading.resolution) == ("سيرغي لافروف", "russia", "list")
    assert reading.speaker_span == (26, 38) and reading.cue_span == (0, 4)


@pytest.mark.parametrize(("phrase", "camp"), [("روسيا ودمشق", "russia"),
                                              ("دمشق وموسكو", "regime"),
                                              ("قطر وروسيا", "none")])
def test_joint_speaker_the_first_named_decides(actors, phrase, camp):
    reading = read(actors, [(f"{phrase} تتفقان على الحل السياسي", phrase, None)])[0]
    assert reading.camp == camp and reading.resolution == "list"
    assert reading.agreement == PLURAL


def test_a_name_takes_the_title_before_it(actors):
    text = "وقال الناطق باسم الجبهة الجنوبية عصام الريس إن الهجوم مستمر"
    reading = read(actors, [(text, "عصام الريس", "وقال")])[0]
    assert (reading.camp, reading.resolution) == ("opposition", "list")


def test_a_place_before_a_name_is_no_title(actors):
    text = "وأكد عضو مجلس قيادة الثورة في ريف دمشق سامر الحلبي أن الحصار مستمر"
    reading = read(actors, [(text, "سامر الحلبي", "وأكد")])[0]
    assert reading.camp is None and reading.unresolved == "other"
    # a body after the preposition is the title's
    text = "وقال عضو الهيئة السياسية في الائتلاف سامر الحلبي إن الحصار مستمر"
    reading = read(actors, [(text, "سامر الحلبي", "وقال")])[0]
    assert (reading.camp, reading.resolution) == ("opposition", "list")


def test_an_adjective_or_a_comma_may_part_a_title_from_its_name(actors):
    for text in ("وأعلن المسؤول الإعلامي في الائتلاف الوطني السوري المعارض سامر الحلبي أنه",
                 "وقال عضو الهيئة العامة للائتلاف، سامر الحلبي، إن الهيئة مجتمعة"):
        reading = read(actors, [(text, "سامر الحلبي", None)])[0]
        assert reading.camp == "opposition"


@pytest.mark.parametrize(("text", "phrase", "camp"), [
    ("وقال مصدر ثان معارض إن الهجوم مستمر", "مصدر ثان معارض", "opposition"),
    ("وذكرت مواقع سورية معارضة أن الهجوم مستمر", "مواقع سورية معارضة", "opposition"),
    ("وقالت وسائل إعلام حكومية إن الطريق آمن", "وسائل إعلام حكومية", "regime"),
    ("وقالت وسائل إعلام سورية رسمية إن الطريق آمن", "وسائل إعلام سورية رسمية", "regime"),
    ("وقالت الناطقة الروسية إن الطريق آمن", "الناطقة الروسية", "russia"),
])
def test_a_camp_adjective_decides_a_role(actors, text, phrase, camp):
    reading = read(actors, [(text, phrase, None)])[0]
    assert (reading.camp, reading.resolution) == (camp, "nationality")


@pytest.mark.parametrize("text", [
    "وقال سامر الحلبي وهو قائد عسكري في فصيل التابع للجيش السوري الحر إن الفصيل مستعد",
    "وأوضح سامر الحلبي، من الجيش السوري الحر، أن الفصائل مستعدة",
])
def test_an_apposition_after_a_name_places_its_bearer(actors, text):
    reading = read(actors, [(text, "سامر الحلبي", None)])[0]
    assert (reading.camp, reading.resolution) == ("opposition", "list")


@pytest.mark.parametrize("text", [
    # the content after a comma, and a home town, are no apposition
    "وقال سامر الحلبي، الجيش السوري الحر يتقدم",
    "وقال سامر الحلبي، من سكان ريف دمشق، إن القصف مستمر",
])
def test_no_apposition(actors, text):
    assert read(actors, [(text, "سامر الحلبي", None)])[0].camp is None


def test_official_alone_is_any_state(actors):
    text = "ونقلت وكالة تونس الرسمية للأنباء عن مصدر موثوق أن العلاقات عادت"
    reading = read(actors, [(text, "وكالة تونس الرسمية للأنباء", "ونقلت")])[0]
    assert reading.camp is None


def test_a_bracket_after_the_phrase_names_its_actor(actors):
    text = "وذكرت وكالة الأنباء الرسمية (سانا) أنه تم التصدي للصواريخ"
    reading = read(actors, [(text, "وكالة الأنباء الرسمية", "وذكرت")])[0]
    assert (reading.camp, reading.resolution) == ("regime", "list")
    # without the bracket the agency could be any country's
    bare = read(actors, [(text.replace(" (سانا)", ""), "وكالة الأنباء الرسمية", "وذكرت")])[0]
    assert bare.camp is None


@pytest.mark.parametrize(("text", "phrase"), [
    ("وقالت وزارة الداخلية الكويتية إنها أوقفت المشتبه به", "وزارة الداخلية الكويتية"),
    ("وقال مسؤولون أميركيون إن الضربة محدودة", "مسؤولون أميركيون"),
    ("وقال المتحدث باسم الخارجية الهولندية يان دي فريس إن الهدنة هشة", "يان دي فريس"),
    ("ونقلت رويترز عن مصدر دبلوماسي غربي أن المحادثات متعثرة", "مصدر دبلوماسي غربي"),
    ("وقال خبراء روس إن الهدنة هشة", "خبراء روس"),
    # the adjective right after a span that stopped short of it
    ("وأعلنت وزارة الداخلية الإسبانية توقيف رجل", "وزارة الداخلية"),
])
def test_a_foreign_nationality_makes_the_speaker_an_outside_actor(actors, text, phrase):
    reading = read(actors, [(text, phrase, None)])[0]
    assert (reading.camp, reading.resolution) == ("none", "nationality")


def test_a_russian_official_is_russia(actors):
    reading = read(actors, [("وقال دبلوماسيون روس إن الهدنة هشة", "دبلوماسيون روس", None)])[0]
    assert (reading.camp, reading.resolution) == ("russia", "nationality")


@pytest.mark.parametrize(("text", "phrase", "camp"), [
    # Syrian, Russian, and a joint speaker whose first name decides
    ("وقالت وزارة الداخلية السورية إن الطريق آمن", "وزارة الداخلية السورية", "regime"),
    ("وقال مصدر عسكري روسي إن الطريق آمن", "مصدر عسكري روسي", "russia"),
    ("وقال لافروف ونظيره الأميركي إن الحل سياسي", "لافروف ونظيره الأميركي", "russia"),
    # a nisba in a name, with no role or institution, is no nationality
    ("وقال أبو عمر المصري إن الطريق آمن", "أبو عمر المصري", None),
])
def test_a_nationality_decides_only_a_foreign_role(actors, text, phrase, camp):
    reading = read(actors, [(text, phrase, None)])[0]
    assert reading.camp == camp and reading.resolution != "nationality"


def test_a_shorter_mention_continues_the_name_it_shortens(actors):
    readings = read(actors, [
        ("وقال الناطق باسم الجبهة الجنوبية عصام الريس إن الهجوم مستمر", "عصام الريس", "وقال"),
        ("وقال مسؤول روسي إن المفاوضات مستمرة", "مسؤول روسي", "وقال"),
        ("وأكد الريس أن الفصائل صامدة", "الريس", "وأكد"),
        ("وقال سامر الريس إن الطريق مقطوع", "سامر الريس", "وقال"),
    ])
    assert (readings[2].actor, readings[2].camp, readings[2].resolution) == (
        readings[0].actor, "opposition", "context")
    # another first name is another person
    assert readings[3].camp is None


def test_generic_role_and_group_resolved_from_earlier_statements(actors):
    readings = read(actors, [
        ("أعلنت وزارة الدفاع الروسية إحباط هجوم على حميميم", "وزارة الدفاع الروسية", "أعلنت"),
        ("وقال المتحدث باسم الوزارة إن الطائرات أسقطت", "المتحدث باسم الوزارة", "وقال"),
        ("وأكد المصدر أن الدفاعات تصدت للهجوم", "المصدر", "وأكد"),
    ])
    assert [(r.actor, r.camp, r.resolution) for r in readings[1:]] == [
        ("وزارة الدفاع الروسية", "russia", "context"), ("وزارة الدفاع الروسية", "russia",
                                                         "context")]
    readings = read(actors, [
        ("التقى الرئيس الروسي وولي عهد أبوظبي في موسكو", None, None),
        ("وأعرب الجانبان عن رغبتهما في زيادة الاستثمارات", "الجانبان", "وأعرب"),
    ])
    assert (readings[1].camp, readings[1].resolution) == ("russia", "context")


def test_unnamed_source_takes_the_relaying_medium_camp(actors):
    sana, reuters = read(actors, [
        ("ونقلت سانا عن مصادر خاصة أن الهجوم فشل", "مصادر خاصة", "ونقلت"),
        ("ونقلت وكالة رويترز عن مصادر مطلعة أن الهجوم فشل", "مصادر مطلعة", "ونقلت"),
    ])
    assert (sana.actor, sana.camp, sana.resolution) == ("وكالة الأنباء السورية", "regime",
                                                         "relay")
    assert (reuters.camp, reuters.resolution) == ("none", "relay")
    # «وقالت -نقلا عن مصادر خاصة-»: SANA, the previous speaker, relays.
    readings = read(actors, [
        ("وأعلنت وكالة سانا توقيف المشتبه به", "وكالة سانا", "وأعلنت"),
        ("وقالت -نقلًا عن مصادر خاصة- إنه سيحال إلى القضاء", "مصادر خاصة", "وقالت"),
    ])
    assert (readings[1].camp, readings[1].resolution) == ("regime", "relay")


def test_unresolved_phrases_say_why(actors):
    readings = read(actors, [
        ("وقال قائد ميداني إن الهجوم صد", "قائد ميداني", "وقال"),
        ("وقال الفلاحون والتجار إن الأسعار ارتفعت", "الفلاحون والتجار", "وقال"),
        ("وقال فلان الفلاني إن الطريق مقطوع", "فلان الفلاني", "وقال"),
    ])
    assert [r.unresolved for r in readings] == ["generic role", "joint speaker", "other"]
    assert all(r.camp is None and r.resolution is None for r in readings)


def test_cue_agreement():
    assert [cue_agreement(w) for w in ("وقال", "وأضافت", "وأكدوا", "وتابع", "واستطردت",
                                       "بحسب")] == [MASCULINE, FEMININE, PLURAL, MASCULINE,
                                                    FEMININE, None]


OPPOSITION_ARTICLE = [
    ("وقالت المعارضة في بيان إن القصف مستمر", "المعارضة", "وقالت"),
    ("وأكد البيان أن المقاومة مستمرة", "البيان", "وأكد"),
    ("وتابعت «الثورة مستمرة حتى النهاية»", None, "وتابعت"),
]


@pytest.mark.parametrize(("policy", "speaker"), [("never", None), ("previous", "البيان"),
                                                 ("agree", "المعارضة")])
def test_inheritance_policies(actors, policy, speaker):
    readings = read(actors, OPPOSITION_ARTICLE, policy)
    assert readings[1].camp == "opposition"  # «البيان» is the statement «في بيان» named
    assert readings[2].speaker == speaker and readings[2].speaker_span is None
    assert readings[2].cue_span == (0, 6)
    if speaker is not None:
        assert readings[2].inherited and readings[2].resolution == "inherited"
        assert readings[2].camp == "opposition"


def test_a_cue_after_a_topic_phrase_continues_the_speaker(actors):
    readings = read(actors, [
        ("وقال لافروف إن الحل سياسي", "لافروف", "وقال"),
        ("وعن الحل العسكري، قال: «لا حل عسكريا»", None, "قال"),
        ("وفي دمشق قال إن الطريق آمن", None, "قال"),  # a place, not a topic
    ])
    assert readings[1].inherited and readings[1].camp == "russia"
    assert readings[2].speaker is None


def test_a_plural_continuation_inherits_the_group(actors):
    readings = read(actors, [
        ("وقال وزراء خارجية روسيا وإيران وتركيا إن الحل سياسي",
         "وزراء خارجية روسيا وإيران وتركيا", "وقال"),
        ("وقال لافروف إن الهدنة صامدة", "لافروف", "وقال"),
        ("وأكدوا التزامهم بالحل السياسي", None, "وأكدوا"),
    ])
    assert readings[2].speaker == "وزراء خارجية روسيا وإيران وتركيا"
    assert readings[2].camp == "russia"


def test_rule_spans_read_headlines_relays_and_unlisted_subjects(actors):
    texts = ["لافروف: لا حل عسكريا في سوريا",
             "ونقلت سانا عن مصدر عسكري أن الدفاعات تصدت للصواريخ",
             "وأضاف المرصد أن عشرات أصيبوا"]
    found = RuleSpans(actors)(texts)
    said = [text[f.speaker.start:f.speaker.end] for text, f in zip(texts, found, strict=True)]
    assert said == ["لافروف", "مصدر عسكري", "المرصد"]
    assert found[0].cue is None and texts[1][found[1].cue.start:found[1].cue.end] == "ونقلت"


def test_a_name_after_the_complementiser_is_the_content(actors):
    texts = ["وقال لافروف إن الحل سياسي", "وأكد أن الولايات المتحدة لم تنسق مع دمشق"]
    found = RuleSpans(actors)(texts)
    assert found[1].speaker is None and found[1].cue is not None
    readings = Speakers(actors, RuleSpans(actors))(texts)
    assert readings[1].inherited and readings[1].camp == "russia"


def test_a_tagger_cue_that_opens_nothing_takes_the_rules_speaker(actors):
    texts = ["وفي دمشق، نقلت سانا عن مصدر عسكري أن الدفاعات تصدت للصواريخ",
             "وأضاف أن الهجوم فشل"]
    found = [tagged(texts[0], cue="نقلت"), tagged(texts[1], cue="وأضاف")]
    readings = Speakers(actors, lambda texts: found)(texts)
    assert readings[0].speaker == "مصدر عسكري" and readings[0].cue == "نقلت"
    # an opening cue continues the earlier speaker instead of taking the rules' reading
    assert readings[1].inherited and readings[1].speaker == "مصدر عسكري"


@pytest.mark.parametrize(("camp", "model", "mode", "expected"), [
    ("russia", "regime", "combined", ("russia", "actor")),
    ("none", "regime", "combined", ("none", "actor")),
    (None, "regime", "combined", ("regime", "model")),
    ("russia", "regime", "model", ("regime", "model")),
    (None, None, "combined", (None, None)),
])
def test_decide(camp, model, mode, expected):
    assert decide(camp, model, mode) == expected


@pytest.mark.parametrize(("camp", "model", "mode", "expected"), [
    (None, "regime", "combined", ("none", "clutter")),
    ("russia", "regime", "combined", ("none", "clutter")),
    (None, "regime", "model", ("regime", "model")),
    (None, None, "combined", (None, None)),
])
def test_clutter_is_none_in_the_combined_decision(camp, model, mode, expected):
    assert decide(camp, model, mode, clutter=True) == expected


def test_the_actor_never_disagrees_with_the_stance_it_decides(actors):
    records = [r for r in read_jsonl(SPLIT_FILES["dev"]) if r["source"] == "real"]
    articles = real_articles(records)
    readings = read_articles(Speakers(actors), [r["text"] for r in records], articles)
    assert sum(r.camp is not None for r in readings.values()) > 100
    for reading in readings.values():
        for model in STANCES:
            stance, source = decide(reading.camp, model)
            assert source == ("actor" if reading.camp is not None else "model")
            assert source == "model" or stance == reading.camp


# A hand-made case: two articles, seven statements, and a tagger's spans. The expected numbers
# below are counted by hand (see each comment).
CASE = [
    # text, gold speaker, inherited, gold cue, stance, outlet, tagged speaker, tagged cue
    ("قال لافروف إن الحل سياسي", "لافروف", False, "قال", "russia", "BBC", "لافروف", "قال"),
    ("وأضاف أن المحادثات مستمرة", "لافروف", True, "وأضاف", "russia", "BBC", None, "وأضاف"),
    ("وقصفت الطائرات القرى", None, False, None, "none", "BBC", "الطائرات", None),
    ("ونقلت سانا عن مصادر خاصة أن الهجوم فشل", "مصادر خاصة", False, "ونقلت", "regime", "BBC",
     "سانا", "ونقلت"),
    ("روسيا ودمشق تنفيان الاتهامات", "روسيا ودمشق", False, "تنفيان", "russia", "CNN", "روسيا",
     None),
    ("وقال الرئيس التركي إن الهدنة هشة", "الرئيس التركي", False, "وقال", "none", "CNN", None,
     None),
    ("وقال قائد ميداني إن الهجوم صد", "قائد ميداني", False, "وقال", "opposition", "CNN",
     "قائد ميداني", "وقال"),
]
MODEL = ["none", "russia", "none", "none", "regime", "none", "opposition"]
ACTOR_RULE = ["russia", "none", "none", "regime", "russia", "none", "none"]


def case_records() -> list[dict]:
    records = []
    for index, (text, speaker, inherited, cue, stance, outlet, _, _) in enumerate(CASE):
        at = tagged(text, None if inherited else speaker, cue)
        records.append({
            "id": f"real-x-{index}", "text": text, "stance": stance, "sentiment": "neutral",
            "speaker": speaker, "source": "real", "derived_from": None, "group": "g",
            "split": "test", "article_id": "A" if outlet == "BBC" else "B", "outlet": outlet,
            "index": index if outlet == "BBC" else index - 4,
            "speaker_span": None if at.speaker is None else [at.speaker.start, at.speaker.end],
            "speaker_inherited": inherited,
            "cue_span": None if at.cue is None else [at.cue.start, at.cue.end],
            "clutter": False})
    return records


class FakeTagger:
    """Stands in for src.inference.tagging.SpeakerTagger: the spans of CASE, and the first of a few
    names and verbs in any other text."""

    NAMES, CUES = ("سيرغي لافروف", "لافروف"), ("وقال", "قال", "وأضاف")

    def __init__(self, folder, device=None):
        self.folder = folder
        self.by_text = {text: tagged(text, speaker, cue) for text, *_, speaker, cue in CASE}

    @staticmethod
    def in_run(run):
        return Path(run) / "speaker"

    def __call__(self, texts):
        found = []
        for text in texts:
            if text in self.by_text:
                found.append(self.by_text[text])
                continue
            name = next((n for n in self.NAMES if n in text), None)
            cue = next((c for c in self.CUES if text.startswith(c)), None)
            found.append(tagged(text, name, cue))
        return found


def test_speaker_numbers_on_a_hand_made_case(actors):
    records = case_records()
    articles = real_articles(records)
    assert articles == [[0, 1, 2, 3], [4, 5, 6]]
    texts = [r["text"] for r in records]
    readings = {"tagger": read_articles(Speakers(actors, FakeTagger(None)), texts, articles)}
    result = evaluate_speakers(actors, records, articles, list(STANCES),
                               [STANCES.index(s) for s in MODEL],
                               [STANCES.index(s) for s in ACTOR_RULE], readings,
                               gold_readings(actors, records, articles), 200, 0,
                               paired_difference)
    scores = result["attribution"]["tagger"]
    # Right: 0, 1 (inherits لافروف), 6; wrong: the spurious 2, 3 (the medium), 4 (half the
    # pair), 5 (missed).
    assert scores["speaker_accuracy"] == pytest.approx(3 / 7)
    span = scores["speaker_span"]
    # 5 predicted spans (0, 2, 3, 4, 6), 5 gold (0, 3, 4, 5, 6); exact: 0 and 6; overlap: 0, 4
    # and 6.
    assert (span["predicted"], span["gold"]) == (5, 5)
    assert span["exact"] == {"precision": 0.4, "recall": 0.4, "f1": pytest.approx(0.4)}
    assert span["overlap"]["f1"] == pytest.approx(0.6)
    # Characters shared 6 + 5 + 11 of 34 predicted and 51 gold.
    assert span["proportional"]["precision"] == pytest.approx(22 / 34)
    assert span["proportional"]["recall"] == pytest.approx(22 / 51)
    # Cues: 4 predicted, all right, of 6 gold.
    cue = scores["cue_span"]
    assert cue["exact"] == {"precision": 1.0, "recall": pytest.approx(2 / 3),
                            "f1": pytest.approx(0.8)}
    assert scores["unresolved"] == {"generic role": 1, "joint speaker": 0, "other": 1}
    # Gold speakers linked: all right but «قائد ميداني», unresolved (none) against opposition.
    linking = result["camp_linking"]
    assert (linking["n"], linking["accuracy"]) == (6, pytest.approx(5 / 6))
    assert linking["resolutions"] == {"list": 3, "inherited": 1, "relay": 1, "unresolved": 1}
    stance = result["stance"]
    # Actor rule: regime 1, russia 0.8, opposition 0, none 2/3; model: 0, 0.5, 1, 2/3.
    assert stance["best_single"] == "actor rule"
    systems = stance["systems"]
    assert systems["actor rule"]["macro_f1"] == pytest.approx((1 + 0.8 + 0 + 2 / 3) / 4)
    assert systems["model"]["macro_f1"] == pytest.approx((0 + 0.5 + 1 + 2 / 3) / 4)
    # Combined: the camps of 0, 1, 3 and 4, the model's none for 2 and 5 and opposition for 6.
    assert systems["tagger + combined"]["accuracy"] == 1.0
    assert systems["tagger + combined"]["vs_best_single"]["difference"] == pytest.approx(
        1 - (1 + 0.8 + 0 + 2 / 3) / 4)
    slices = {name: entry["n"] for name, entry in result["slices"].items()}
    assert slices == {"attributed": 5, "continuation (inherited)": 1, "relayed": 1,
                      "joint speaker": 1, "narration (no speaker)": 1, "outlet BBC": 4,
                      "outlet CNN": 3}
    assert result["slices"]["continuation (inherited)"]["speaker_accuracy"]["tagger"] == 1.0


@pytest.fixture(scope="module")
def stance_run(tmp_path_factory):
    """A run folder with a TF-IDF stance model fitted on 30 statements of each camp."""
    import skops.io
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from src.text.normalization import ArabicNormalizer

    train = read_jsonl(SPLIT_FILES["train"])
    records = [r for stance in STANCES for r in [r for r in train if r["stance"] == stance][:30]]
    folder = tmp_path_factory.mktemp("run") / "stance"
    folder.mkdir()
    model = Pipeline([("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))),
                      ("classifier", LogisticRegression(max_iter=1000))])
    model.fit([r["text"] for r in records], [STANCES.index(r["stance"]) for r in records])
    skops.io.dump(model, folder / "model.skops")
    (folder / "labels.json").write_text(json.dumps(
        {"task": "stance", "id2label": dict(enumerate(STANCES))}))
    ArabicNormalizer().save(folder)
    return folder.parent


ARTICLE = ("قال وزير الخارجية الروسي سيرغي لافروف إن المحادثات كانت مثمرة.\n"
           "وأضاف أن الجولة المقبلة ستعقد في أستانا.\n"
           "دمشق - ونقلت سانا عن مصادر خاصة أن الهجوم فشل.\n")


def run_predict(capsys, *args) -> tuple[int, str, str]:
    code = predict.main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_prints_who_speaks_with_offsets_into_the_file(stance_run, tmp_path, capsys):
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, out, err = run_predict(capsys, path, "--run-dir", stance_run, "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(list(row) == list(OUTPUT_FIELDS) for row in rows)
    said = [(r["speaker"], r["actor"], r["camp"], r["resolution"], r["cue"]) for r in rows]
    assert said == [("سيرغي لافروف", "سيرغي لافروف", "russia", "list", "قال"),
                    ("سيرغي لافروف", "سيرغي لافروف", "russia", "inherited", "وأضاف"),
                    ("مصادر خاصة", "وكالة الأنباء السورية", "regime", "relay", "ونقلت")]
    for row in rows:
        assert ARTICLE[row["cue_start"]:row["cue_end"]] == row["cue"]
        assert (row["stance"], row["stance_source"], row["stance_score"]) == (
            row["camp"], "actor", None)
    assert ARTICLE[rows[0]["speaker_start"]:rows[0]["speaker_end"]] == "سيرغي لافروف"
    assert rows[1]["speaker_start"] is None and rows[1]["speaker_end"] is None
    assert ARTICLE[rows[2]["speaker_start"]:rows[2]["speaker_end"]] == "مصادر خاصة"

    code, out, _ = run_predict(capsys, path, "--run-dir", stance_run, "--format", "csv",
                               "--stance", "model")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(table[0]) == list(OUTPUT_FIELDS)
    assert {row["stance_source"] for row in table} == {"model"}
    assert all(row["stance_score"] for row in table)


def test_predict_uses_the_run_tagger(stance_run, tmp_path, capsys, monkeypatch):
    import src.inference.tagging

    monkeypatch.setattr(src.inference.tagging, "SpeakerTagger", FakeTagger)
    path = tmp_path / "article.txt"
    text = "وقال سيرغي لافروف إن الهدنة صامدة.\nوأضاف «لن نسمح بتكرار الخروقات».\n"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_predict(capsys, path, "--run-dir", stance_run, "--format", "jsonl")
    assert code == 0 and "speakers from the tagger in" in err
    first, second = (json.loads(line) for line in out.splitlines())
    assert text[first["speaker_start"]:first["speaker_end"]] == "سيرغي لافروف"
    assert text[first["cue_start"]:first["cue_end"]] == "وقال"
    assert (second["speaker"], second["speaker_start"], second["resolution"]) == (
        "سيرغي لافروف", None, "inherited")
    assert second["stance"] == "russia" and second["stance_source"] == "actor"


class BrokenTagger(FakeTagger):
    def __init__(self, folder, device=None):
        raise OSError("config.json: no model_type")


def test_a_tagger_that_cannot_load_is_a_clear_error(stance_run, tmp_path, capsys,
                                                    monkeypatch):
    import src.inference.tagging

    monkeypatch.setattr(src.inference.tagging, "SpeakerTagger", BrokenTagger)
    path = tmp_path / "a.txt"
    path.write_text("قال لافروف إن الحل سياسي\n", encoding="utf-8")
    code, out, err = run_predict(capsys, path, "--run-dir", stance_run)
    assert code == 2 and out == ""
    assert f"{stance_run / 'speaker'}: the speaker tagger could not be loaded" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_predict_with_a_tiny_trained_tagger(stance_run, tmp_path, capsys):
    """A real token-classification folder, so the pipeline's offsets are checked end to end."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from src.inference.tagging import BIO_LABELS
    from src.models.tiny import train_wordpiece

    run = tmp_path / "run"
    (run / "speaker").mkdir(parents=True)
    (run / "stance").symlink_to(stance_run / "stance")
    tokenizer = train_wordpiece([ARTICLE], 300, min_frequency=1)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=1, intermediate_size=16, max_position_embeddings=128,
                        num_labels=len(BIO_LABELS), id2label=dict(enumerate(BIO_LABELS)),
                        label2id={label: i for i, label in enumerate(BIO_LABELS)},
                        finetuning_task="speaker")  # what the run-folder contract reads
    model = BertForTokenClassification(config)
    with torch.no_grad():  # every token inside a cue span: one span per statement
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[BIO_LABELS.index("I-CUE")] = 5.0
    model.save_pretrained(run / "speaker")
    tokenizer.save_pretrained(run / "speaker")
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, out, err = run_predict(capsys, path, "--run-dir", run, "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and all(row["cue_start"] is not None for row in rows)
    assert all(ARTICLE[r["cue_start"]:r["cue_end"]] == r["cue"] for r in rows)
    # a cue that opens its statement continues an earlier speaker, and there is none
    assert all(row["speaker"] is None for row in rows)


def test_evaluate_reports_the_speaker_section(stance_run, tmp_path, monkeypatch, write_jsonl):
    import src.inference.tagging

    monkeypatch.setattr(src.inference.tagging, "SpeakerTagger", FakeTagger)
    test_file = write_jsonl("test.jsonl", case_records())
    train_file = write_jsonl("train.jsonl", read_jsonl(SPLIT_FILES["train"])[:200])
    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("eval", overrides=[f"paths.output_dir={out}", "bootstrap_resamples=50",
                                         f"run_dir={stance_run}", f"data.files.test={test_file}",
                                         f"data.files.train={train_file}"])
    results = evaluate(cfg)
    speakers = results["speakers"]
    assert set(speakers["attribution"]) == {"rules", "tagger"}
    assert set(speakers["stance"]["systems"]) == {"model", "actor rule", "rules + combined",
                                                  "tagger + combined"}
    assert speakers["attribution"]["tagger"]["speaker_accuracy"] == pytest.approx(3 / 7)
    report = (out / "report.md").read_text()
    assert "## speakers (real articles)" in report and "| tagger + combined |" in report
    assert "Statement-level speaker accuracy" in report
    assert json.loads((out / "metrics.json").read_text())["speakers"]["statements"] == 7
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert rows[3]["speaker_rules"]["camp"] == "regime"
