"""The Arabic words that tell who speaks, and how a speech verb agrees with its speaker.

Every list is folded with the attribution module's ``MATCHING`` (alef forms, alef maksura and
ta marbuta conflated), and words are compared by ``stem``: folded, without punctuation and
without the article or a preposition glued to it. ``MATCHING`` drops invisible characters
(``src.text.letters.INVISIBLE``), so a word that holds one compares as the word without it.
"""

from __future__ import annotations

import re

from src.text.attribution import (
    ACCORDING_TO,
    MATCHING,
    SPEECH_VERBS,
    STATEMENT_NOUNS,
    ActorList,
    is_trigger,
)
from src.text.attribution import RANKS as ATTRIBUTOR_RANKS
from src.text.attribution import verb_gender as _verb_gender
from src.text.letters import INVISIBLE, QUOTE_MARKS, QUOTE_PAIRS

MASCULINE, FEMININE, PLURAL = "masculine", "feminine", "plural"
PUNCTUATION = QUOTE_MARKS + "'()[].,،؛:!؟?-–—#*"
# What may stand between two words of one phrase: spaces and quote marks.
QUOTES = " " + QUOTE_MARKS
HEADLINE_WORDS = 4  # words between a headline's speaker and its colon
CUE_WORDS = 3  # words between a speaker and a speech word the tagger did not tag


def _folded(*words: str) -> frozenset[str]:
    return frozenset(MATCHING(word) for word in words)


# Words that may stand before an opening continuation verb: «كما أضاف», «وكان أكد».
OPENERS = _folded("كما", "ثم", "لكن", "لكنه", "لكنها", "ولكن", "ولكنه", "ولكنها", "وكان",
                  "وكانت", "كان", "كانت", "وقد", "قد", "فيما", "بينما")
# A topic phrase before the cue keeps it the statement's first clause: «وعن الحل العسكري، قال:»,
# «وحول أهداف قيادة الائتلاف ... أشار إلى أن» continue the previous speaker.
TOPICS = _folded("وعن", "وحول", "وبشأن", "وبخصوص", "عن", "حول", "بشأن", "بخصوص")
NOT_VERBS = frozenset((*ACCORDING_TO, *STATEMENT_NOUNS, "نقلا", "وفقا"))
VERB_STEMS = frozenset(SPEECH_VERBS)
RELAY_VERBS = ("نقل", "ينقل", "اورد", "يورد")
RELAY_PHRASE = re.compile(r"(?:^|\s)[وف]?نقلا\s+عن")
# Words that name a role rather than someone: they point back to an actor named earlier.
ROLES = _folded(
    "مصدر", "مصادر", "مسؤول", "مسؤولون", "مسؤولين", "متحدث", "ناطق", "وزير", "وزارة", "مركز",
    "بيان", "رئيس", "رئاسة", "مستشار", "مستشارة", "مرصد", "جيش", "هيئة", "حكومة", "خارجية",
    "وكالة", "منظمة", "سفير", "سفارة", "مبعوث", "ائتلاف", "جبهة", "مجلس", "لجنة", "تلفزيون",
    "قناة", "صحيفة", "جريدة", "مراسل", "قائد", "قيادة", "وفد", "مندوب", "بعثة", "شبكة", "مكتب",
    "إدارة", "أمين", "تقرير", "رسالة", "تصريح", "معاليه")
# Documents speak for whoever issued them: «البيان» is the statement of an earlier speaker.
DOCUMENTS = _folded("بيان", "تقرير", "رسالة", "تصريح")
# Heads of unnamed sources (written without the article): the relaying medium's camp (§8.4).
UNNAMED = _folded("مصدر", "مصادر", "مسؤول", "مسؤولون", "مسؤولين", "جهات", "أوساط")
# Groups named by a dual or a count: the first actor the article names decides (§8.2).
GROUPS = _folded("جانبان", "جانبين", "طرفان", "طرفين", "رئيسان", "رئيسين", "بلدان", "بلدين",
                 "زعيمان", "زعيمين", "وزيران", "وزيرين", "وفدان", "وفدين", "دولتان", "دولتين")
COUNTS = _folded("ثلاثة", "ثلاث", "أربعة", "أربع", "خمسة")
# Words of a role phrase that say nothing about whose role it is.
SKIPPED = _folded("باسم", "ذاته", "ذاتها", "نفسه", "نفسها", "في", "عن", "من", "لدى", "إلى",
                  "على", "مع")
# Heads of human plurals, which a bare «وأكدوا» continues.
BROKEN_PLURALS = _folded(
    "نشطاء", "خبراء", "وزراء", "قادة", "زعماء", "أعضاء", "سكان", "أهالي", "ممثلو", "ممثلي",
    "مسؤولو", "مسؤولي", "مقاتلو", "عناصر", "محللون", "مراقبون", "دبلوماسيون", "بعض")
SINGULAR_HEADS = _folded("مسؤول", "ناشط", "محلل", "مراقب", "معارض", "مقاتل", "مسلح", "دبلوماسي",
                         "متحدث", "ممثل", "عضو", "متظاهر", "لاجئ", "نازح", "مواطن", "خبير")
# The «أنّ» that opens reported content: a name after it is the content's, not the speaker
# («وأكد أن الولايات المتحدة لم تنسق»).
COMPLEMENTISERS = _folded("إن", "أن", "بأن", "وإن", "وأن", "إنه", "أنه", "بأنه", "إنها", "أنها",
                          "بأنها")
# Words that follow a speech verb without being its subject.
NOT_SUBJECTS = COMPLEMENTISERS | _folded(
    "في", "على", "عن", "من", "إلى", "الى", "مع", "خلال", "قبل", "بعد", "لدى", "أمس", "أيضا",
    "كذلك", "قائلا", "مؤكدا", "مضيفا", "مشيرا", "اليوم", "الأسبوع", "الشهر", "العام", "الاثنين",
    "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد", "الليلة", "الماضي", "السابق",
    "الأول", "الثاني", "هذا", "هذه", "ذلك", "الذي", "التي", "بشدة", "مجددا", "لاحقا", "سابقا",
    "بدوره", "بدورها", "ردا")
# Words that tie a phrase to a camp it is not («تلفزيون حزب الله الموالي لدمشق», «صحيفة الوطن
# المقربة من الحكومة»): what follows them names the patron, not the speaker.
AFFILIATIONS = _folded("الموالي", "الموالية", "موال", "موالية", "المقرب", "المقربة", "مقرب",
                       "مقربة", "التابع", "التابعة", "تابع", "تابعة", "المؤيد", "المؤيدة", "مؤيد",
                       "مؤيدة")
SAMENESS = _folded("ذاته", "ذاتها", "نفسه", "نفسها")  # «المصدر ذاته»
# What may follow a definite role word and still be part of it: «المتحدث باسم ...».
QUALIFIERS = SAMENESS | _folded("باسم")
ADJECTIVES = _folded("العام", "العامة", "الأعلى", "الخاص", "الخاصة", "الأول", "المعارض",
                     "المعارضة", "المحلي", "المحلية")
# Words that make a phrase the title of the name after it.
TITLES = _folded("رئيس", "وزير", "نائب", "ناطق", "متحدث", "مدير", "قائد", "سفير", "مندوب",
                 "مبعوث", "أمين", "مستشار", "مستشارة", "زعيم", "عضو", "ممثل", "منسق", "محافظ")
RANKS = ATTRIBUTOR_RANKS | _folded("المشير", "الأدميرال")
# Words before a name that the guidelines' speaker phrase leaves out (§4: «اللواء فيكتور
# كوبتشيشين» → «فيكتور كوبتشيشين»): ranks and honorifics, 20 of the 21 real train and dev speaker
# spans that one opens or precedes leave it out. «السفير» and «الفريق» ("the team") also head a
# phrase with no name after them («السفير الروسي», «الفريق الطبي»).
LEADING_TITLES = (RANKS - _folded("السفير", "الفريق")) | _folded("معالي", "سمو", "فخامة", "سماحة")
# Nationality adjectives (masculine singular) of the states and blocs outside the three camps
# (GUIDELINES §2.3, §8.6): a role qualified by one is that state's («مسؤولون أميركيون»,
# «وزارة الداخلية الكويتية», «وزير الخارجية القطري»), whichever bare Syrian institution name
# («وزارة الداخلية») or earlier speaker («وزير الخارجية» after Lavrov) it would match. Syrian
# is either side, so it decides nothing.
FOREIGN = _folded(
    "أمريكي", "أميركي", "بريطاني", "فرنسي", "ألماني", "إيطالي", "إسباني", "هولندي", "بلجيكي",
    "سويدي", "نرويجي", "دنماركي", "نمساوي", "سويسري", "يوناني", "بولندي", "كندي", "أسترالي",
    "أوروبي", "غربي", "أممي", "تركي", "إيراني", "إسرائيلي", "لبناني", "عراقي", "أردني", "مصري",
    "سعودي", "قطري", "كويتي", "إماراتي", "بحريني", "عماني", "يمني", "تونسي", "جزائري", "مغربي",
    "ليبي", "سوداني", "صيني", "ياباني", "هندي", "باكستاني", "أفغاني", "كردي")
# Broken plurals of some of them: «المسؤولين الأتراك».
FOREIGN_PLURALS = _folded("أمريكان", "أميركان", "أتراك", "أكراد", "إيرانيين")
# Russian is the Russian state's only for its officials and institutions: «خبراء روس» is none
# (§8.6).
RUSSIAN = _folded("روسي", "روس")
NATIONS = FOREIGN | FOREIGN_PLURALS | RUSSIAN
# Heads that make a phrase a role or an institution, which a nationality qualifies; a bare
# name with a nisba («أبو عمر المصري») is left to the list.
INSTITUTIONS = _folded("سلطات", "قوات", "شرطة", "استخبارات", "إعلام", "داخلية", "دفاع",
                       "دبلوماسي", "دبلوماسيون", "دبلوماسيين", "حكومة", "جيش", "طيران", "وسائل",
                       "مواقع")
OFFICIALS = ROLES | TITLES | UNNAMED | INSTITUTIONS
# Words before a mention that make it a place, which qualifies a title and names no actor
# («عضو مجلس قيادة الثورة في ريف دمشق»).
PLACE_WORDS = _folded("في", "لدى", "إلى", "من", "ريف", "بريف", "مدينة", "بمدينة")
# Words that open an apposition after a name: «وهو قائد في ...», «أحد قادة ...».
APPOSITION = _folded("وهو", "وهي", "أحد", "إحدى")
# The adjective that makes a role the opposition's, in each gender and number.
OPPOSING = _folded("معارض", "معارضة", "معارضون", "معارضين", "معارضتان")


def stem(word: str) -> str:
    """``word`` folded, without punctuation and without the article or a preposition glued to
    it («للمرصد» → «مرصد»)."""
    word = MATCHING(word).strip(PUNCTUATION)
    for prefix in ("وال", "فال", "بال", "كال", "لل", "ال"):
        if word.startswith(prefix) and len(word) > len(prefix) + 1:
            return word[len(prefix):]
    return word


def bare_verb(word: str) -> str:
    """A verb folded, without punctuation and without a conjunction («وأضاف:» → «اضاف»)."""
    word = MATCHING(word).strip(PUNCTUATION)
    return word[1:] if len(word) > 3 and word[0] in "وف" else word


def verb_gender(word: str) -> bool | None:
    """The attribution module's ``verb_gender`` of a word as written (it reads folded words)."""
    return _verb_gender(MATCHING(word).strip(PUNCTUATION))


def cue_agreement(word: str) -> str | None:
    """The subject a speech verb agrees with: masculine or feminine singular, or plural (duals
    included); None for a cue that is no verb («بحسب», «بيان»). Verbs outside the attributor's
    list (a tagger's «واستطرد») are read by their endings."""
    bare = bare_verb(word)
    if not bare or bare.lstrip("ب") in NOT_VERBS:
        return None
    if bare.endswith(("وا", "ون", "تا")) or (bare.endswith("ا") and bare[:-1] in VERB_STEMS):
        return PLURAL
    feminine = _verb_gender(bare)
    if feminine is None:
        feminine = bare.endswith(("ت", "ه"))
    return FEMININE if feminine else MASCULINE


def is_joint(phrase: str, actors: ActorList | None = None) -> bool:
    """Two or more actors as one subject: a coordination («روسيا ودمشق», «النظام السوري
    وأنصاره»), two actors of ``actors``, or a group named by a dual or a count («الجانبان»,
    «الوزراء الثلاثة»). A name that only begins with و («وليد», «ولسون») is no coordination."""
    words = MATCHING(phrase).split()
    stems = [stem(word) for word in words]
    if (stems and stems[0] in GROUPS) or any(word in COUNTS for word in stems[1:]):
        return True
    if actors is not None and len(actors.mentions(phrase)) > 1:
        return True
    return any(word.startswith("و") and (word[1:].startswith("ال")
                                         or word.endswith(("ه", "ها", "هم")))
               for word in (w.strip(PUNCTUATION) for w in words[1:]))


def is_plural(phrase: str, actors: ActorList) -> bool:
    """Whether a plural verb agrees with ``phrase``: a joint speaker or a human plural head."""
    words = phrase.split()
    if not words:
        return False
    head = stem(words[0])
    return (is_joint(phrase, actors) or head in BROKEN_PLURALS
            or (head.endswith(("ون", "ين")) and head[:-2] in SINGULAR_HEADS)
            or (head.endswith(("و", "ي")) and head[:-1] in SINGULAR_HEADS))


def feminine_name(phrase: str, kind: str | None) -> bool:
    """Gender of a speaker no verb agrees with: feminine nouns end in ta marbuta, countries are
    feminine, and so are Russian women's surnames in -ova/-eva."""
    words = MATCHING(phrase).split()
    return kind == "state" or (bool(words) and (words[0].endswith("ه")
                                                or words[-1].endswith(("وفا", "يفا"))))


def is_relay_verb(word: str) -> bool:
    return bare_verb(word).startswith(RELAY_VERBS)


def is_relay(text: str, cue: tuple[int, int] | None) -> bool:
    """Whether a statement passes on someone else's words: its cue is a relay verb («نقلت»,
    «أوردت») or it says «نقلا عن» (GUIDELINES §8.4)."""
    if cue is not None and is_relay_verb(text[cue[0]:cue[1]]):
        return True
    return bool(RELAY_PHRASE.search(MATCHING(text)))


def opens(text: str, cue: tuple[int, int]) -> bool:
    """Whether ``cue`` opens the statement, alone, after a connective («كما», «وكان») or after a
    topic phrase («وعن الحل العسكري، قال»)."""
    # A mark of direction alone between spaces is no word before the cue.
    before = INVISIBLE.sub("", text[:cue[0]]).split()
    return (not before or (len(before) == 1 and MATCHING(before[0]) in OPENERS)
            or MATCHING(before[0]) in TOPICS)


def speaks_uncued(text: str, span: tuple[int, int]) -> bool:
    """Whether a phrase found as a speaker with no cue can be one. A named speaker's cue is null
    only in a headline whose colon follows it (GUIDELINES §8.1: «لافروف: ...», «الأسد في خطابه
    أمس: ...»; 23 of the 23 real train and dev spans without a cue), so the phrase needs that
    colon within ``HEADLINE_WORDS`` words after it, or a speech word within ``CUE_WORDS`` words
    of it (a cue the tagger missed); else it is the subject of some other verb, and the
    statement narration («وفككت اسبانيا خلايا ...», «استقبلت ميركل الرئيس الروسي فلاديمير
    بوتين»)."""
    start, end = span
    after = re.findall(r"\S+", text[end:])
    if ":" in " ".join(after[:HEADLINE_WORDS]):
        return True
    near = text[:start].split()[-CUE_WORDS:] + after[:CUE_WORDS]
    return any(is_trigger(MATCHING(word).strip(PUNCTUATION)) for word in near)


def inside_quote(text: str, position: int) -> bool:
    before = text[:position]
    # A mark that closes itself is open after an odd count of it.
    return any(before.count(opening) % 2 == 1 if opening == closing
               else before.rfind(opening) > before.rfind(closing)
               for opening, closing in QUOTE_PAIRS.items())


def word_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the words of ``text``, without the punctuation they carry."""
    spans = []
    for match in re.finditer(r"\S+", text):
        start, end = match.span()
        while start < end and text[start] in PUNCTUATION:
            start += 1
        while end > start and text[end - 1] in PUNCTUATION:
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def _nationality(word: str) -> str:
    """A nationality adjective in any gender and number, as its masculine singular («الأميركية»,
    «أميركيون», «الأميركيين» → «اميركي»)."""
    word = stem(word)
    if word in FOREIGN_PLURALS:
        return word
    for ending in ("يون", "يين", "يان", "يه", "يتان", "يتين"):
        if word.endswith(ending):
            return word[:-len(ending)] + "ي"
    return word


def is_nationality(word: str) -> bool:
    """Whether ``word`` is a nationality adjective («الاسبانية», «الروسي», «السوري»)."""
    return _nationality(word) in NATIONS | {"سوري"}


def nationality_camp(phrase: str) -> str | None:
    """The camp of a role or institution that a nationality adjective qualifies: ``none`` for a
    state outside the three camps (its experts and activists too) and for Russian experts,
    ``russia`` for a Russian official or institution. A Syrian role takes the camp its other
    adjective names: opposition («مصدر ثان معارض», «مواقع سورية معارضة»), or regime for the
    government's («وسائل إعلام حكومية», «وسائل إعلام سورية رسمية»; «رسمية» alone is any
    state's, Tunisia's agency too). None otherwise."""
    words = MATCHING(phrase).split()
    nationalities = {_nationality(word) for word in words}
    heads = {stem(word) for word in words} | nationalities
    heads |= {head.removesuffix("ه") for head in heads}  # feminine titles: «الناطقة»
    official = bool(heads & OFFICIALS)
    role = bool(heads & (OFFICIALS | BROKEN_PLURALS | SINGULAR_HEADS))
    if "سوري" not in nationalities:
        if nationalities & (FOREIGN | FOREIGN_PLURALS):
            return "none" if role else None
        if nationalities & RUSSIAN:
            return "russia" if official else ("none" if role else None)
    if not role or len(words) < 2:
        return None
    if any(stem(word) in OPPOSING for word in words[1:]):
        return "opposition"
    if "حكومي" in nationalities or {"رسمي", "سوري"} <= nationalities:
        return "regime"
    return None


def title_camp(text: str, start: int) -> str | None:
    """:func:`nationality_camp` of the title right before a name («وزير الخارجية الأميركي»
    before «جون كيري»): its nationality adjective is the last word before the name, ranks and
    quotes aside."""
    words = text[:start].split()
    while words and MATCHING(words[-1].strip(QUOTES)) in RANKS:
        words.pop()
    if not words or _nationality(words[-1]) not in NATIONS:
        return None
    return nationality_camp(" ".join(words[-4:]))
