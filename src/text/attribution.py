"""Who says a statement: speech verbs plus the actor list in ``data/actors.yaml``.

A statement is attributed when a speech or claim verb (or "according to", or a statement noun)
stands near an actor mention: the nearest mention is the speaker. A bare back-reference such as
"المركز" or "البيان" after the verb refers to the previous speaker whose name contains it. A
continuation with no subject ("وأضاف ..."، "وتابعت ...") inherits the previous speaker whose
grammatical gender agrees with the verb. Invisible characters (``src.text.letters.INVISIBLE``)
are looked through; every offset is into the text as written.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from src.data.paths import DATA_DIR
from src.data.schema import STANCES
from src.text.letters import CLOSING_QUOTES, OPENING_QUOTES, QUOTATION, QUOTE_MARKS
from src.text.normalization import ArabicNormalizer, VisibleText

ACTORS_FILE = DATA_DIR / "actors.yaml"
CAMPS = STANCES  # a speaker's camp is the stance label of what they say

# Matching folds the letters that news copy spells inconsistently.
MATCHING = ArabicNormalizer(alef=True, alef_maksura=True, teh_marbuta=True)

# Past and present stems of the speech and claim verbs, after MATCHING (alef forms folded).
SPEECH_VERBS = (
    "قال", "يقول", "اعلن", "يعلن", "اكد", "يؤكد", "اوضح", "يوضح", "اضاف", "يضيف", "تابع", "يتابع",
    "اتهم", "يتهم", "نفي", "ينفي", "حذر", "يحذر", "ذكر", "يذكر", "كشف", "يكشف", "نقل", "صرح",
    "يصرح", "شدد", "يشدد", "اشار", "يشير", "لفت", "اعتبر", "يعتبر", "طالب", "يطالب", "دعا", "دعي",
    "يدعو", "رحب", "يرحب", "ادان", "يدين", "ندد", "يندد", "افاد", "يفيد", "اعرب", "يعرب", "عبر",
    "وصف", "يصف", "زعم", "يزعم", "ختم", "اعترف", "تعهد", "توعد", "هدد", "يهدد", "انتقد", "ينتقد",
    "رفض", "يرفض", "اشاد", "يشيد", "ثمن", "حمل", "يحمل",
)
ACCORDING_TO = ("حسب", "بحسب", "وفق", "وفقا", "طبقا")
STATEMENT_NOUNS = ("بيان", "بيانها", "بيانه", "تصريح", "تصريحات", "تصريحاته")
# Verbs beginning a statement whose subject is the previous speaker.
CONTINUATIONS = ("اضاف", "تابع", "اوضح", "اكد", "قال", "شدد", "اشار", "لفت", "ختم", "استطرد")
# Generic heads that refer back to a speaker named earlier.
BACK_REFERENCES = ("المركز", "البيان", "المصدر", "المتحدث", "الوزير", "الوزاره", "الرئيس",
                   "الهيئه", "الائتلاف", "الوكاله", "الجيش", "الخارجيه", "المنظمه", "الحكومه")
CLITICS = "وفبلك"
WINDOW = 8  # words between a verb and its subject


# What an actor is, as data/actors.yaml records it: context resolution needs it (a medium
# relaying an unnamed source lends it its camp, GUIDELINES §8.4).
KINDS = ("person", "government", "military", "media", "party", "armed_group", "ngo",
         "international", "state", "other")


@dataclass(frozen=True)
class Actor:
    name: str
    camp: str
    english: str = ""
    variants: tuple[str, ...] = ()
    kind: str = "other"


@dataclass(frozen=True)
class Attribution:
    """A statement's speaker as the rules read it. ``span`` and ``cue`` are character offsets
    into the statement: ``span`` is None when the speaker is not named in it (inherited from an
    earlier statement), ``cue`` when no speech word was found."""

    speaker: str | None
    camp: str | None
    quote: str | None
    feminine: bool = False
    span: tuple[int, int] | None = None
    cue: tuple[int, int] | None = None


def _words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised word without clitics and punctuation) for each word."""
    words = []
    for match in re.finditer(r"\S+", text):
        word = MATCHING(match.group().strip(QUOTE_MARKS + "().,،؛:!؟?"))
        words.append((match.start(), match.end(), word))
    return words


def _bare(word: str) -> str:
    """``word`` without a leading conjunction (و/ف), as verbs and nouns take them."""
    return word[1:] if len(word) > 3 and word[0] in "وف" else word


def _verb_forms() -> dict[str, bool]:
    """Every inflected form of the speech verbs recognised, and whether it is feminine (past -ت,
    present ت-); a form shared by two stems reads as the first stem's."""
    forms: dict[str, bool] = {}
    for stem in SPEECH_VERBS:
        for suffix in ("", "ت", "وا", "ا"):
            form = stem + suffix
            forms.setdefault(form, form.endswith("ت") and not stem.endswith("ت"))
        if stem.startswith("ي"):
            forms.setdefault("ت" + stem[1:], True)
    return forms


VERB_FORMS = _verb_forms()


def verb_gender(word: str) -> bool | None:
    """None when ``word`` is no speech verb; else whether its form is feminine, which is the
    gender of its subject."""
    return VERB_FORMS.get(_bare(word))


def is_trigger(word: str) -> bool:
    """Whether a folded word without its punctuation ties content to a speaker: a speech verb,
    «بحسب»/«وفق», or a statement noun («بيان»)."""
    bare = _bare(word)
    return (verb_gender(word) is not None or bare in ACCORDING_TO
            or bare.lstrip("ب") in STATEMENT_NOUNS or word in STATEMENT_NOUNS)


def _feminine_name(mention: str) -> bool:
    """Gender of a mention without a verb to agree with: feminine nouns end in ta marbuta, and
    Russian women's surnames in -ova/-eva."""
    words = MATCHING(mention).split()
    return bool(words) and (words[0].endswith("ه") or words[-1].endswith(("وفا", "يفا")))


def _subject_gender(gender: bool | None, mention: str) -> bool:
    """The gender of the verb when there is one (not after "according to" or a statement noun),
    else the mention's own."""
    return gender if gender is not None else _feminine_name(mention)


def first_quote(text: str) -> str | None:
    match = QUOTATION.search(text)
    return next(group for group in match.groups() if group) if match else None


@dataclass
class ActorList:
    """Actor names and variants, matched longest first on normalised text."""

    actors: list[Actor]
    _names: list[tuple[str, Actor]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [(MATCHING(name), actor) for actor in self.actors
                 for name in (actor.name, *actor.variants)]
        names.sort(key=lambda pair: -len(pair[0]))
        self._names = [(name, actor) for name, actor in names if name]

    @classmethod
    def load(cls, path: str | Path = ACTORS_FILE) -> ActorList:
        # libyaml's loader, where PyYAML was built with it, reads the list in a tenth of the
        # pure-Python one's 0.7 s, most of a prediction's start otherwise.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        entries = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)["actors"]
        actors = []
        for number, entry in enumerate(entries, 1):
            if entry.get("camp") not in CAMPS or not entry.get("name"):
                raise ValueError(f"{path}: actor {number} ({entry.get('name')!r}): expected a "
                                 f"name and a camp in {', '.join(CAMPS)}")
            if entry.get("kind", "other") not in KINDS:
                raise ValueError(f"{path}: actor {number} ({entry['name']!r}): kind "
                                 f"{entry['kind']!r} is not one of {', '.join(KINDS)}")
            actors.append(Actor(name=entry["name"], camp=entry["camp"],
                                english=entry.get("english", ""),
                                variants=tuple(entry.get("variants") or ()),
                                kind=entry.get("kind", "other")))
        return cls(actors)

    def mentions(self, text: str) -> list[tuple[int, int, Actor]]:
        """Non-overlapping actor mentions as (start, end, actor) in original-text offsets.
        Matching reads the text folded as the names are, without the characters folding
        removes (diacritics, tatweel; «هيثم منّاع» is «هيثم مناع») and without the invisible
        ones (VisibleText); each match is mapped back to the text as written."""
        visible = VisibleText.of(text)
        folded, origins = _fold_keeping_origins(visible.text)
        taken = [False] * len(folded)
        found = []
        for name, actor in self._names:
            # A substring test skips the regex for almost every name; name[1:] also finds the
            # article elided after the preposition ("للمرصد").
            if (name[1:] if name.startswith("ال") else name) not in folded:
                continue
            for match in _mention_pattern(name).finditer(folded):
                start, end = match.span(1)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    found.append((*visible.original(origins[start], origins[end - 1] + 1),
                                  actor))
        return sorted(found, key=lambda item: item[0])


@functools.cache
def _mention_pattern(name: str) -> re.Pattern:
    """``name`` as a whole word, after at most two clitics, compiled on first use (a thousand
    names compiled up front cost a second at every start). After the preposition ل the article
    loses its alef ("للكرملين"); that form is matched whole, as GUIDELINES §8.1 writes such a
    speaker."""
    body = re.escape(name)
    if name.startswith("ال"):
        body = f"(?:ال|لل){re.escape(name[2:])}"
    return re.compile(rf"(?<![^\s{OPENING_QUOTES}(])[{CLITICS}]{{0,2}}({body})"
                      rf"(?![^\s{CLOSING_QUOTES}).,،؛:!؟?])")


def _fold_keeping_origins(text: str) -> tuple[str, list[int]]:
    """MATCHING applied character by character, without the characters it removes, and the
    offset into ``text`` of each character kept."""
    folded, origins = [], []
    for i, char in enumerate(text):
        mapped = _fold_char(char)
        if mapped:
            folded.append(mapped)
            origins.append(i)
    return "".join(folded), origins


@functools.cache
def _fold_char(char: str) -> str:
    # Cached: the normaliser's full pipeline on every character was most of attribution's time.
    mapped = MATCHING(char)
    return mapped[:1]


class Attributor:
    """Finds speakers statement by statement, remembering earlier speakers of the same text."""

    def __init__(self, actors: ActorList) -> None:
        self.actors = actors
        self.history: list[Attribution] = []

    def __call__(self, text: str) -> Attribution:
        visible = VisibleText.of(text)
        attribution = self._attribute(visible.text)
        if visible.text is not text:
            attribution = _as_written(attribution, visible)
        if attribution.speaker is not None:
            self.history.append(attribution)
        return attribution

    def _attribute(self, text: str) -> Attribution:
        quote = first_quote(text)
        words = _words(text)
        quoted = [match.span() for match in QUOTATION.finditer(text)]
        # A name inside the quotation is what is spoken about, not who speaks.
        mentions = [(start, end, actor) for start, end, actor in self.actors.mentions(text)
                    if not any(q_start <= start < q_end for q_start, q_end in quoted)]
        opening = None  # a continuation verb with no subject and no earlier speaker to agree
        for index, (start, end, word) in enumerate(words):
            if not is_trigger(word) or any(q0 <= start < q1 for q0, q1 in quoted):
                continue
            cue = _trimmed(text, start, end)
            subject = self._subject(text, words, index, mentions)
            if subject is not None:
                mention, camp, feminine, span = subject
                return Attribution(mention, camp, quote, feminine, span, cue)
            if _opens_continuation(words, index):
                continuation = self._continuation(words, index)
                if continuation is not None:
                    return Attribution(continuation.speaker, continuation.camp, quote,
                                       continuation.feminine, None, cue)
                opening = opening or cue
        return Attribution(None, None, quote, cue=opening)

    def _subject(self, text: str, words, index: int, mentions
                 ) -> tuple[str, str, bool, tuple[int, int]] | None:
        """The verb's subject: a mention right after it, a back-reference right after it,
        else the nearest mention after it, else the nearest before it (within WINDOW words)."""
        placed = [(_word_index(words, s), s, e, a) for s, e, a in mentions]
        after = sorted((i - index, s, e, a) for i, s, e, a in placed if i is not None and i > index)
        before = sorted((index - i, s, e, a) for i, s, e, a in placed
                        if i is not None and i < index)
        gender = verb_gender(words[index][2])
        if after and after[0][0] == 1:
            return self._named(text, words, after, gender)
        if index + 1 < len(words) and words[index + 1][2] in BACK_REFERENCES:
            start, end = _trimmed(text, *words[index + 1][:2])
            head = words[index + 1][2].removeprefix("ال")
            for earlier in reversed(self.history):
                if head in MATCHING(earlier.speaker):
                    mention = text[start:end]
                    return (mention, earlier.camp, _subject_gender(gender, mention),
                            (start, end))
            return None
        if after and after[0][0] <= WINDOW:
            return self._named(text, words, after, gender)
        if before and before[0][0] <= WINDOW:
            _, start, end, actor = before[0]
            # Subject before the verb: "وكان بوتين قال"; the verb agrees with it.
            return (text[start:end], actor.camp, _subject_gender(gender, text[start:end]),
                    (start, end))
        return None

    @staticmethod
    def _named(text: str, words, after, gender: bool | None
               ) -> tuple[str, str, bool, tuple[int, int]]:
        """The mention after the verb; in a chain of title and name ("المتحدث باسم الجبهة
        الوطنية للتحرير ناجي مصطفى") the name, the last link, is the speaker."""
        chain = [after[0]]
        for distance, start, end, actor in after[1:]:
            gap = _word_index(words, start) - _word_index(words, chain[-1][2] - 1) - 1
            # After a comma comes an apposition («نيبينزيا، السفير الروسي»), not the name.
            apposition = any(mark in text[chain[-1][2]:start] for mark in "،,")
            if gap > 1 or apposition or actor.camp != chain[-1][3].camp:
                break
            chain.append((distance, start, end, actor))
        _, start, end, actor = chain[-1]
        mention = _strip_rank(text[start:end])
        start = end - len(mention)
        return mention, actor.camp, _subject_gender(gender, mention), (start, end)

    def _continuation(self, words, index: int) -> Attribution | None:
        """An opening verb with no subject continues the previous speaker of its gender."""
        feminine = _bare(words[index][2]).endswith("ت")
        return next((earlier for earlier in reversed(self.history)
                     if earlier.feminine == feminine), None)


def _as_written(attribution: Attribution, visible: VisibleText) -> Attribution:
    """``attribution`` of ``visible.text`` with its offsets, the speaker named in the statement
    and the quote as they are in ``visible.written``."""
    span = cue = None
    speaker = attribution.speaker
    if attribution.span is not None:
        span = visible.original(*attribution.span)
        speaker = visible.written[span[0]:span[1]]
    if attribution.cue is not None:
        cue = visible.original(*attribution.cue)
    return replace(attribution, speaker=speaker, span=span, cue=cue,
                   quote=first_quote(visible.written))


def _opens_continuation(words, index: int) -> bool:
    """Whether the trigger at ``index`` is a continuation verb opening the statement."""
    verb = _bare(words[index][2])
    opens_statement = index == 0 or (index == 1 and words[0][2] in ("كما", "ثم"))
    return opens_statement and any(verb.startswith(stem) for stem in CONTINUATIONS)


RANKS = frozenset(MATCHING(rank) for rank in (
    "اللواء", "العميد", "العقيد", "الرائد", "النقيب", "المقدم", "الملازم", "الفريق", "الجنرال",
    "الدكتور", "الشيخ", "السفير"))


def _strip_rank(mention: str) -> str:
    first, _, rest = mention.partition(" ")
    return rest if rest and MATCHING(first) in RANKS else mention


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without the punctuation a word carries ("وأضاف:", "«المركز»")."""
    while start < end and not _in_word(text[start]):
        start += 1
    while end > start and not _in_word(text[end - 1]):
        end -= 1
    return start, end


def _in_word(char: str) -> bool:
    return char.isalnum() or unicodedata.combining(char) > 0


def _word_index(words, char_start: int) -> int | None:
    for index, (start, end, _) in enumerate(words):
        if start <= char_start < end:
            return index
    return None
