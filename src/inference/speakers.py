"""Who speaks each statement of an article, in order, and for which camp.

An article is read statement by statement:

1. **Spans.** A learned speaker tagger (``src.inference.tagging.SpeakerTagger``, or any callable
   from texts to ``Tagged``) or, when there is none, the rule attributor
   (``src.text.rule_spans``) gives each statement at most one speaker span and one cue span, as
   offsets into the statement. Where the tagger finds a cue that does not open its statement
   but no speaker, the rule attributor's speaker stands in.
2. **Context.** A statement with no speaker span of its own whose cue opens it («وأضاف»,
   «وتابعت», «وأكدوا») continues an earlier speaker (``INHERIT``; GUIDELINES rule 8, §8.2).
3. **Linking.** The phrase is looked up in the actor list (longest normalised match); of a joint
   or list speaker the first-named actor decides (§8.2), and a name the list lacks takes the
   title written before it («الناطق باسم الجبهة الجنوبية عصام الريس»). Anything else is
   resolved from the article: a role or back-reference («المتحدث باسم الوزارة», «المصدر»,
   «الوزير») from the actors named earlier, a group («الجانبان», «الطرفان») from the first actor
   the article names, an unnamed source («مصادر مطلعة») from the medium that relays it (§8.4).
4. **Stance.** Attribution comes first (§2.1): a resolved camp is the stance, otherwise the
   stance model's label stands (``decide``). Web clutter, when a detector flags it
   (``src.inference.clutter``), has no speaker and is ``none`` (§8.8).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from src.text.attribution import MATCHING, Actor, ActorList
from src.text.rule_spans import RuleSpans
from src.text.speaker_words import (
    ADJECTIVES,
    APPOSITION,
    COMPLEMENTISERS,
    COUNTS,
    DOCUMENTS,
    FEMININE,
    GROUPS,
    MASCULINE,
    PLACE_WORDS,
    PLURAL,
    PUNCTUATION,
    QUOTES,
    RANKS,
    ROLES,
    SINGULAR_HEADS,
    SKIPPED,
    TITLES,
    UNNAMED,
    cue_agreement,
    feminine_name,
    is_joint,
    is_plural,
    is_relay,
    is_relay_verb,
    nationality_camp,
    opens,
    stem,
    title_camp,
)
from src.text.tagged import Span, Tagged

SpanSource = Callable[[list[str]], list[Tagged]]
ClutterSource = Callable[[list[str]], list[bool]]

# How a speaker's camp was found; an inherited speaker keeps its source's actor and camp.
RESOLUTIONS = ("list", "nationality", "context", "relay", "inherited")
# Why a phrase named in its statement stayed unresolved, for the report.
UNRESOLVED = ("generic role", "joint speaker", "other")
POLICIES = ("never", "previous", "agree")
# Statement-level speaker accuracy on the real dev articles (274 statements, 21 articles):
#   python scripts/inheritance_policies.py data/qawl/dev.jsonl \
#       --tagger outputs/tagger-tiny/speaker
#   policy      rule spans   gold own spans and cues   tagger-tiny spans
#   never          0.704         0.887                    0.500
#   previous       0.745         0.982                    0.504
#   agree          0.745         0.982                    0.511
# (gold own spans: the gold inheritance left out, so that the policy decides it.) Inheriting
# is worth 4 points with the rules and 9.5 with right spans. With the rules and with right
# spans dev cannot tell the last speaker from the last one of the verb's gender and number;
# the tagger's spans can, and agreement is the guidelines' rule (seed-15 «وتابعت» skips the
# masculine «البيان» for «المعارضة»).
INHERIT = "agree"
# An apposition after a name is read up to the statement's «إن», the next comma, or this many
# words.
APPOSED_WORDS = 10
TITLE_WORDS = 3  # words before a mention that may hold its title («المتحدث باسم الكرملين»)


@dataclass(frozen=True)
class Reading:
    """Who speaks one statement. Offsets are into the statement; ``speaker_span`` is None for
    an inherited speaker, whose ``speaker`` is the phrase as it was last named. ``actor`` is
    the actor list's name (for a relayed unnamed source, the relaying medium's)."""

    speaker: str | None = None
    speaker_span: tuple[int, int] | None = None
    cue: str | None = None
    cue_span: tuple[int, int] | None = None
    inherited: bool = False
    actor: str | None = None
    camp: str | None = None
    kind: str | None = None
    resolution: str | None = None
    unresolved: str | None = None
    agreement: str | None = None
    clutter: bool = False


def decide(camp: str | None, model_stance: str | None, mode: str = "combined",
           clutter: bool = False) -> tuple[str | None, str | None]:
    """The stance and what decided it: in the ``combined`` mode, ``none`` for web clutter
    (GUIDELINES §8.8) and the resolved speaker's ``camp``; else the model's label (None without
    a stance model)."""
    if mode == "combined" and model_stance is not None and clutter:
        return "none", "clutter"
    if mode == "combined" and camp is not None:
        return camp, "actor"
    return model_stance, None if model_stance is None else "model"


@dataclass(frozen=True)
class _Candidate:
    """An actor an earlier statement named: the word stems around it, and its link."""

    stems: frozenset[str]
    actor: str | None
    camp: str
    kind: str | None


def _is_place(text: str, start: int, end: int, actor: Actor) -> bool:
    """Whether the mention at ``start:end`` is a place after a preposition, which qualifies a
    title and names no actor: «عضو مجلس قيادة الثورة في ريف دمشق», «ممثل الائتلاف في الولايات
    المتحدة». A body does name it: «عضو الهيئة السياسية في الائتلاف», «في وزارة الخارجية»."""
    before = text[:start].split()
    if not before or MATCHING(before[-1].strip(QUOTES)) not in PLACE_WORDS:
        return False
    return actor.kind == "state" or (actor.kind == "government"
                                     and len(text[start:end].split()) == 1)


def _cut(text: str, span: tuple[int, int] | None) -> str | None:
    return None if span is None else text[span[0]:span[1]]


class Article:
    """The context of one article: what its earlier statements said and who said them."""

    def __init__(self, actors: ActorList) -> None:
        self.actors = actors
        self.readings: list[Reading] = []
        self.candidates: list[list[_Candidate]] = []  # per earlier statement, in text order

    def add(self, text: str, reading: Reading) -> Reading:
        """Remember a statement and its reading, as context for the statements after it."""
        candidates = []
        for start, end, actor in self.actors.mentions(text):
            words = [*text[:start].split()[-TITLE_WORDS:], *text[start:end].split()]
            candidates.append(_Candidate(frozenset(map(stem, words)), actor.name, actor.camp,
                                         actor.kind))
        if reading.camp is not None and reading.speaker_span is not None:
            start, end = reading.speaker_span
            words = [*text[:start].split()[-TITLE_WORDS:], *text[start:end].split()]
            # A document the statement names is its speaker's: «وقالت المعارضة في بيان» makes
            # a later «البيان» the opposition's (rule 8).
            documents = {stem(word) for word in text.split()} & DOCUMENTS
            candidates.append(_Candidate(frozenset(map(stem, words)) | documents,
                                         reading.actor, reading.camp, reading.kind))
        self.candidates.append(candidates)
        self.readings.append(reading)
        return reading

    def link(self, text: str, span: tuple[int, int], cue: tuple[int, int] | None) -> Reading:
        """The reading of a statement that names its speaker at ``span``."""
        phrase = text[span[0]:span[1]]
        reading = Reading(speaker=phrase, speaker_span=span, cue=_cut(text, cue), cue_span=cue)
        mentions = self.actors.mentions(phrase)
        actor = mentions[0][2] if mentions else (self._title(text, span)
                                                 or self._bracketed(text, span)
                                                 or self._apposed(text, span))
        # A foreign nationality outweighs a Syrian institution's bare name («وزارة الداخلية
        # الكويتية», the adjective in the span or right after it) and any earlier speaker; a
        # joint speaker's first name still decides.
        nationality = None if is_joint(phrase, self.actors) else (
            nationality_camp(" ".join([phrase, *text[span[1]:].split()[:1]]))
            or (None if mentions else title_camp(text, span[0])))
        if nationality is not None and (actor is None or actor.camp == "regime"):
            reading = replace(reading, camp=nationality, resolution="nationality")
        elif actor is not None:
            reading = replace(reading, actor=actor.name, camp=actor.camp, kind=actor.kind,
                              resolution="list")
        else:
            reading = self._resolve(text, span, cue, reading)
        # A relay verb agrees with the medium («نقلت سانا عن مصدر»), not with the source.
        said = (None if cue is None or is_relay_verb(text[cue[0]:cue[1]])
                else cue_agreement(text[cue[0]:cue[1]]))
        agreement = PLURAL if is_plural(phrase, self.actors) else said
        if agreement is None:
            agreement = FEMININE if feminine_name(phrase, reading.kind) else MASCULINE
        return replace(reading, agreement=agreement)

    def link_phrase(self, phrase: str) -> Reading:
        """A speaker not written in its statement (an inherited gold speaker), linked in the
        article's context."""
        reading = self.link(phrase, (0, len(phrase)), None)
        return replace(reading, speaker_span=None, inherited=True,
                       resolution="inherited" if reading.camp is not None else None)

    def inherit(self, text: str, cue: tuple[int, int] | None, policy: str) -> Reading | None:
        """The reading of a statement with no speaker span that continues an earlier speaker,
        or None: ``previous`` takes the last speaker, ``agree`` the last one whose gender and
        number agree with the cue verb."""
        if policy == "never" or cue is None or not opens(text, cue):
            return None
        wanted = cue_agreement(text[cue[0]:cue[1]])
        for earlier in reversed(self.readings):
            if earlier.speaker is None:
                continue
            if policy == "previous" or wanted is None or earlier.agreement == wanted:
                return replace(earlier, speaker_span=None, cue=_cut(text, cue), cue_span=cue,
                               inherited=True, unresolved=None,
                               resolution="inherited" if earlier.camp is not None else None)
        return None

    def _title(self, text: str, span: tuple[int, int]) -> Actor | None:
        """The actor of a title written right before a name («الناطق باسم الجبهة الجنوبية
        عصام الريس», «رئيس "الخوذ البيضاء" رائد صالح»), with nothing but quotes or a rank
        between them."""
        earlier = self.actors.mentions(text[:span[0]])
        if not earlier:
            return None
        start, end, actor = earlier[-1]
        if _is_place(text, start, end, actor):
            return None
        between = [MATCHING(word.strip(PUNCTUATION))
                   for word in text[end:span[0]].strip(QUOTES).split()]
        # «في الائتلاف الوطني السوري المعارض أحمد كامل», «للائتلاف، خطيب بدلة»
        return actor if all(not word or word in RANKS | ADJECTIVES for word in between) else None

    def _bracketed(self, text: str, span: tuple[int, int]) -> Actor | None:
        """The actor a bracket right after the phrase names: the guidelines' speaker leaves
        out the abbreviation that an outlet adds («وكالة الأنباء الرسمية (سانا)»), and the
        bare phrase is ambiguous (Tunisia's agency is «الرسمية» too)."""
        after = text[span[1]:]
        opened = len(after) - len(after.lstrip())
        close = after.find(")", opened)
        if after[opened:opened + 1] != "(" or close < 0:
            return None
        inside = self.actors.mentions(after[opened + 1:close])
        return inside[0][2] if inside else None

    def _apposed(self, text: str, span: tuple[int, int]) -> Actor | None:
        """The body that an apposition right after a name places its bearer in: «صالح شيخ يوسف
        أحد قادة الفرقة الثانية الساحلية», «أبو نبوت وهو قائد عسكري في فصيل (لواء توحيد
        الجنوب) التابع للجيش السوري الحر», «سيد سيف، من كتائب الشهيد أحمد عبده،»."""
        after = text[span[1]:].lstrip()
        words = after.lstrip("،,").split()
        if not words:
            return None
        opener = MATCHING(words[0])
        # After a comma only a role or «من» opens an apposition: «بحسب المرصد، تطرقت» is
        # the content.
        after_comma = after[:1] in ("،", ",") and (
            opener == "من" or stem(words[0]) in TITLES | SINGULAR_HEADS)
        if opener not in APPOSITION and not after_comma:
            return None
        clause = []
        for word in words[:APPOSED_WORDS]:
            if MATCHING(word.strip(PUNCTUATION)) in COMPLEMENTISERS:
                break
            clause.append(word)
            if word.endswith(("،", ",")):
                break
        clause_text = " ".join(clause)
        for start, end, actor in self.actors.mentions(clause_text):
            if actor.kind not in ("person", "state") and not _is_place(clause_text, start, end,
                                                                       actor):
                return actor
        return None

    def _resolve(self, text: str, span: tuple[int, int], cue, reading: Reading) -> Reading:
        """A phrase the list does not hold, resolved from the article, or marked unresolved."""
        words = [stem(word) for word in reading.speaker.split()]
        words = [word for word in words if word and word not in SKIPPED]
        named = self._named_earlier(reading.speaker)
        if named is not None:
            return self._linked(reading, named)
        if (words and words[0] in GROUPS) or any(word in COUNTS for word in words[1:]):
            first = next((c for statement in self.candidates for c in statement
                          if c.actor is not None), None)
            if first is not None:
                return self._linked(reading, first)
        elif words and words[0] in UNNAMED and not MATCHING(reading.speaker).startswith("ال"):
            relayed = self._relayed(text, span, cue, reading)
            if relayed is not None:
                return relayed
        elif any(word in ROLES for word in words):
            # The last word first: in «المتحدث باسم الوزارة» the ministry says whose spokesman.
            for word in reversed(words):
                for statement in reversed(self.candidates):
                    for candidate in reversed(statement):
                        if word in candidate.stems:
                            return self._linked(reading, candidate)
            if words[0] in UNNAMED:  # «المصدر», «المسؤول»: the source that spoke last
                previous = next((r for r in reversed(self.readings) if r.camp is not None),
                                None)
                if previous is not None:
                    return replace(reading, actor=previous.actor, camp=previous.camp,
                                   kind=previous.kind, resolution="context")
        return replace(reading, unresolved=_why_unresolved(reading.speaker, words))

    def _named_earlier(self, phrase: str) -> Reading | _Candidate | None:
        """The earlier speaker that a shorter mention of a name continues («تونر» after
        «مارك تونر», GUIDELINES §8.1): every word of ``phrase`` in the earlier phrase, the last
        one last. A role is resolved by its words instead."""
        words = MATCHING(phrase).split()
        if not words or any(stem(word) in ROLES | UNNAMED | GROUPS for word in words):
            return None

        def shortens(name: str | None) -> bool:
            known = MATCHING(name or "").split()
            return len(known) > len(words) and known[-1] == words[-1] and set(words) <= set(known)

        for earlier in reversed(self.readings):
            if earlier.camp is not None and not earlier.inherited and shortens(earlier.speaker):
                return earlier
        # A name the article gave in full without its bearer speaking: a bare surname is no
        # entry of the list, as it names others too («الحريري» is also Saad Hariri).
        for statement in reversed(self.candidates):
            for candidate in reversed(statement):
                if candidate.kind == "person" and shortens(candidate.actor):
                    return candidate
        return None

    @staticmethod
    def _linked(reading: Reading, candidate: Reading | _Candidate) -> Reading:
        return replace(reading, actor=candidate.actor, camp=candidate.camp, kind=candidate.kind,
                       resolution="context")

    def _relayed(self, text: str, span: tuple[int, int], cue, reading: Reading
                 ) -> Reading | None:
        """An unnamed source through the medium that relays it: a medium named in the
        statement, else the previous speaker when it is a medium and the cue has no subject
        of its own («وقالت -نقلًا عن مصادر خاصة-» after SANA spoke). A relay through no medium
        the list knows is a neutral outlet's: ``none`` (§8.4)."""
        media = [(start, actor) for start, _, actor in self.actors.mentions(text)
                 if actor.kind == "media" and not span[0] <= start < span[1]]
        before = [item for item in media if item[0] < span[0]]
        medium = (before[-1] if before else media[0])[1] if media else None
        if medium is None:
            if not is_relay(text, cue) and not re.search(r"(?:^|\s)عن\s*$", text[:span[0]]):
                return None
            between = [] if cue is None else text[cue[1]:span[0]].split()
            previous = next((r for r in reversed(self.readings) if r.speaker is not None),
                            None)
            if (previous is None or previous.kind != "media" or cue is None
                    or not opens(text, cue) or any(stem(word) not in ("نقلا", "عن")
                                                   for word in between)):
                return replace(reading, camp="none", resolution="relay")
            return replace(reading, actor=previous.actor, camp=previous.camp,
                           kind=previous.kind, resolution="relay")
        return replace(reading, actor=medium.name, camp=medium.camp, kind=medium.kind,
                       resolution="relay")


def _why_unresolved(phrase: str, words: list[str]) -> str:
    if any(word in ROLES or word in UNNAMED or word in GROUPS for word in words):
        return "generic role"
    return "joint speaker" if is_joint(phrase) else "other"


def tagger_of(run: Path, device: str | None = None):
    """The speaker tagger ``run`` trained (``RUN/speaker/``), or None when it trained none;
    raises src.inference.loading.ModelError for one that cannot be loaded."""
    from src.core.errors import ModelError
    from src.inference.tagging import SpeakerTagger

    folder = SpeakerTagger.in_run(run) if Path(run).is_dir() else None
    if folder is None:
        return None
    try:
        return SpeakerTagger(folder, device)
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: the speaker tagger could not be loaded ({err})") from None


class Speakers:
    """Reads articles: spans from ``tagger`` (default: the rule attributor), then context
    (inheritance ``policy``) and linking. With ``clutter`` (``src.inference.clutter``), the
    statements it flags have no speaker and are no one's context."""

    def __init__(self, actors: ActorList, tagger: SpanSource | None = None,
                 policy: str = INHERIT, clutter: ClutterSource | None = None) -> None:
        if policy not in POLICIES:
            raise ValueError(f"inheritance policy {policy!r}: expected one of "
                             f"{', '.join(POLICIES)}")
        self.actors = actors
        self.spans = RuleSpans(actors) if tagger is None else tagger
        self.backoff = None if tagger is None else RuleSpans(actors)
        self.policy = policy
        self.clutter = clutter

    def __call__(self, texts: list[str]) -> list[Reading]:
        """One reading per statement of one article, ``texts`` in article order."""
        texts = list(texts)
        tagged = self.spans(texts)
        missing = [_misses_speaker(text, found) for text, found in zip(texts, tagged, strict=True)]
        if self.backoff is not None and any(missing):
            # The rules read the whole article, in order, as their back-references need.
            tagged = [replace(found, speaker=rule.speaker) if miss and rule.cue is not None
                      else found for found, rule, miss
                      in zip(tagged, self.backoff(texts), missing, strict=True)]
        return self.read(texts, tagged, None if self.clutter is None else self.clutter(texts))

    def read(self, texts: list[str], tagged: list[Tagged], clutter: list[bool] | None = None
             ) -> list[Reading]:
        """Readings of one article from spans found by any source (gold spans included);
        ``clutter`` marks the statements that are not the article's text."""
        article = Article(self.actors)
        readings = []
        for text, found, flagged in zip(texts, tagged, clutter or [False] * len(texts),
                                        strict=True):
            if flagged:
                readings.append(Reading(clutter=True))
                continue
            cue = _offsets(found.cue)
            if found.speaker is not None:
                reading = article.link(text, _offsets(found.speaker), cue)
            else:
                reading = (article.inherit(text, cue, self.policy)
                           or Reading(cue=_cut(text, cue), cue_span=cue))
            readings.append(article.add(text, reading))
        return readings


def _misses_speaker(text: str, found: Tagged) -> bool:
    """Whether a statement has a cue that does not open it, so continues no one, and no speaker:
    the tagger missed one, and the rule attributor's stands in («نقلت وكالة الأنباء السورية
    الرسمية “سانا”، الجمعة، أن ...»)."""
    return (found.speaker is None and found.cue is not None
            and not opens(text, (found.cue.start, found.cue.end)))


def _offsets(span: Span | None) -> tuple[int, int] | None:
    return None if span is None else (span.start, span.end)
