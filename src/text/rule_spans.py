"""The rule attributor as a source of speaker and cue spans, shaped as a tagger's output.

``src.text.attribution.Attributor`` finds a speech verb and the nearest actor-list mention. Three
readings of GUIDELINES §8 that need no actor list come before it or correct it: the name before
a colon opening a headline («لافروف: ...», §8.5); the source after «عن» of a relay verb
(«نقلت سانا عن مصدر عسكري», §8.4); and a definite or role phrase right after the verb («وقال
المرصد», «وأضاف المسؤول»), which names a speaker the list lacks rather than continuing the
previous one. A title's name stands for the title («الناطق باسم الجبهة الجنوبية عصام الريس» →
«عصام الريس», §4). Statements are read without their invisible characters
(``src.text.letters.INVISIBLE``) and the spans given in the text as written.
"""

from __future__ import annotations

import re

from src.text.attribution import MATCHING, ActorList, Attributor
from src.text.letters import ARABIC_LETTER, OPENING_QUOTES
from src.text.normalization import VisibleText
from src.text.speaker_words import (
    ADJECTIVES,
    COMPLEMENTISERS,
    NOT_SUBJECTS,
    PUNCTUATION,
    QUALIFIERS,
    QUOTES,
    RANKS,
    ROLES,
    TITLES,
    UNNAMED,
    bare_verb,
    inside_quote,
    is_plural,
    is_relay_verb,
    stem,
    verb_gender,
    word_spans,
)
from src.text.tagged import Span, Tagged

RELAY_WINDOW = 8  # words between a relay verb and its «عن»
HEAD_WORDS = 5  # the longest role phrase read after a verb

Offsets = tuple[int, int]


class RuleSpans:
    """Speaker and cue spans of one article's statements, read in order so that «وحسب
    المركز» finds the centre named before; callable like ``src.inference.tagging.SpeakerTagger``."""

    def __init__(self, actors: ActorList) -> None:
        self.actors = actors

    def __call__(self, texts: list[str]) -> list[Tagged]:
        attribute = Attributor(self.actors)
        tagged = []
        for text in texts:
            visible = VisibleText.of(text)
            found = self._read(visible.text, attribute(visible.text))
            tagged.append(Tagged(*(None if span is None
                                   else Span(*visible.original(span.start, span.end), span.score)
                                   for span in (found.speaker, found.cue))))
        return tagged

    def _read(self, text: str, found) -> Tagged:
        headline = colon_speaker(text)
        if headline is not None:
            return Tagged(Span(*headline, 1.0), None)
        span, cue = found.span, found.cue
        if cue is not None:
            words = word_spans(text)
            after = [w for w in words if w[0] >= cue[1]]
            if is_relay_verb(text[cue[0]:cue[1]]) or (
                    after and bare_verb(text[after[0][0]:after[0][1]]) == "نقلا"):
                span = self._relayed(text, after) or span
            elif (span is not None and span[0] >= cue[1] and after
                  and MATCHING(text[after[0][0]:after[0][1]]) in COMPLEMENTISERS):
                span = None  # «وأكد أن الولايات المتحدة ...»: the speaker is carried over
            else:
                named = None
                if after and (span is None or span[0] != after[0][0]):
                    named = subject_phrase(text, after, self.actors)
                if named is None and span is not None:
                    named = name_after_title(text, span, words, self.actors)
                span = named or span
        return Tagged(None if span is None else Span(*span, 1.0),
                      None if cue is None else Span(*cue, 1.0))

    def _relayed(self, text: str, after: list[Offsets]) -> Offsets | None:
        """The phrase after the first «عن» within a few words of the relay verb."""
        for position, (start, end) in enumerate(after[:RELAY_WINDOW]):
            if MATCHING(text[start:end]).strip(PUNCTUATION) == "عن":
                return subject_phrase(text, after[position + 1:], self.actors, relayed=True)
        return None


def colon_speaker(text: str) -> Offsets | None:
    """«لافروف: لا حل عسكريا»: up to four words before a colon open the statement, none of them
    a speech verb."""
    match = re.match(rf"\s*([^:{OPENING_QUOTES}\n]{{2,60}}?)\s*:\s*\S", text)
    if (match is None or len(match.group(1).split()) > 4
            or not ARABIC_LETTER.search(match.group(1))):
        return None
    if any(verb_gender(word) is not None for word in match.group(1).split()):
        return None
    return match.span(1)


def subject_phrase(text: str, words: list[Offsets], actors: ActorList, relayed: bool = False
                   ) -> Offsets | None:
    """The speaker phrase that ``words`` (the words after a verb or «عن») begin with: a list
    mention starting there, else a definite noun or a role word with the words that qualify it
    («المتحدث باسم الوزارة», «مصادر موثوقة»), and after «عن» any name; the name after a title
    stands for it. None when the first word is a particle or a time word."""
    if not words:
        return None
    first = words[0]
    for start, end, _ in actors.mentions(text):
        if start <= first[0] < end:
            return name_after_title(text, (start, end), words, actors) or (start, end)
    head = MATCHING(text[first[0]:first[1]])
    role = stem(head) in ROLES or stem(head) in UNNAMED or is_plural(head, actors)
    if head in NOT_SUBJECTS or inside_quote(text, first[0]):
        return None
    if not (head.startswith("ال") or role):
        return name(text, words) if relayed else None
    second = MATCHING(text[words[1][0]:words[1][1]]) if len(words) > 1 else ""
    construct = not head.startswith("ال") and second.startswith("ال")
    end = first[1]
    if head.startswith("ال") or construct:
        # A definite head takes the adjectives that agree with it («الشرطة الإسبانية»), or
        # «باسم» and its noun; a head in construct («وكالة الأنباء الرسمية») its noun first.
        takes_noun = construct
        for start, stop in words[1:HEAD_WORDS]:
            word = MATCHING(text[start:stop])
            if text[end:start].strip(QUOTES) or word in NOT_SUBJECTS:
                break
            if not (takes_noun or word in QUALIFIERS or _adjective(word)):
                break
            takes_noun = word == "باسم"
            end = stop
    elif len(words) > 1 and not text[end:words[1][0]].strip() and second not in NOT_SUBJECTS:
        end = words[1][1]  # an unnamed source's one qualifier: «مصادر موثوقة»
    for start, stop, _ in actors.mentions(text):
        if first[0] < start < end < stop:  # «تلفزيون حزب» is «تلفزيون حزب الله»
            end = stop
    if not (head.startswith("ال") or construct):  # «مسؤول إقليمي بارز» titles no name
        return first[0], end
    return name_after_title(text, (first[0], end), words, actors) or (first[0], end)


def _adjective(word: str) -> bool:
    """A definite adjective by its form: the relative adjectives in -ي («الروسي», «الرسمية»)
    and a few others that follow speakers' titles."""
    return word.startswith("ال") and (word.endswith(("ي", "يه", "يون", "يين", "يان"))
                                      or word in ADJECTIVES)


def name(text: str, words: list[Offsets]) -> Offsets | None:
    """Up to three words of a name, ending at punctuation, a particle, a verb or a quote."""
    found: list[Offsets] = []
    end = words[0][0] if words else 0
    for start, stop in words[:3]:
        word = MATCHING(text[start:stop])
        if (text[end:start].strip() or word in NOT_SUBJECTS or verb_gender(word) is not None
                or inside_quote(text, start)):
            break
        found.append((start, stop))
        end = stop
    return (found[0][0], found[-1][1]) if found else None


def name_after_title(text: str, span: Offsets, words: list[Offsets], actors: ActorList
                     ) -> Offsets | None:
    """The name that follows a title («الناطق باسم الجبهة الجنوبية عصام الريس» → «عصام
    الريس»), after a rank if any; a name the list holds ends where its mention ends («الرئيس
    الروسي فلاديمير بوتين الاتحاد الأوروبي»)."""
    title = [*text[:span[0]].split()[-2:], *text[span[0]:span[1]].split()]
    if not any(stem(word) in TITLES for word in title):
        return None
    following = [w for w in words if w[0] >= span[1]]
    end = span[1]
    while following and not text[end:following[0][0]].strip(QUOTES) and MATCHING(
            text[following[0][0]:following[0][1]]) in RANKS:
        end = following[0][1]
        following = following[1:]
    if not following or text[end:following[0][0]].strip(QUOTES) or MATCHING(
            text[following[0][0]:following[0][1]]).startswith("ال"):
        return None
    for start, stop, _ in actors.mentions(text):
        if start == following[0][0]:
            return start, stop
    return name(text, following)
