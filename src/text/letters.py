"""Quotation marks, Arabic letters and invisible characters: the one definition every module
that reads text uses.

News copy quotes in three styles: straight quotes, guillemets and curly quotes. Arabic is
matched in two widths: the whole Unicode Arabic block, which says a text is written in Arabic,
and the letters alone (hamza to yeh), which words are made of. Scraped copy also carries
characters that show nothing and mean nothing to a reader, which matching must look through.
"""

from __future__ import annotations

import re

STRAIGHT_QUOTE = '"'  # opens and closes
GUILLEMETS = ("«", "»")
CURLY_QUOTES = ("“", "”")
# Opening mark → closing mark.
QUOTE_PAIRS = dict(((STRAIGHT_QUOTE, STRAIGHT_QUOTE), GUILLEMETS, CURLY_QUOTES))
# Each style by its opening mark, the mark that tells a text uses it.
QUOTE_STYLES = {"straight": STRAIGHT_QUOTE, "guillemets": GUILLEMETS[0],
                "curly": CURLY_QUOTES[0]}
OPENING_QUOTES = "".join(QUOTE_PAIRS)
CLOSING_QUOTES = "".join(QUOTE_PAIRS.values())
QUOTE_MARKS = "".join(dict.fromkeys(OPENING_QUOTES + CLOSING_QUOTES))
# A quotation; the group of its style holds the quoted words.
QUOTATION = re.compile("|".join(
    f"{re.escape(opening)}([^{re.escape(closing)}]+){re.escape(closing)}"
    for opening, closing in QUOTE_PAIRS.items()))
# A text that quotes someone: it holds an opening mark.
QUOTED = re.compile(f"[{re.escape(OPENING_QUOTES)}]")

# The block decides whether text is Arabic at all (right-to-left display, the non-Arabic
# warning): a statement of Arabic digits or punctuation still counts. Word boundaries, datelines
# and perturbations need the letters alone, without tatweel, diacritics, digits or punctuation.
ARABIC_BLOCK = "\u0600-\u06FF"
ARABIC_LETTERS = "\u0621-\u064A"
ARABIC = re.compile(f"[{ARABIC_BLOCK}]")
ARABIC_LETTER = re.compile(f"[{ARABIC_LETTERS}]")
# Letters that join the next one, after which a tatweel can stretch the word.
JOINING_LETTERS = frozenset("بتثجحخسشصضطظعغفقكلمنهيئ")
TATWEEL = "\u0640"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # extended Arabic-Indic, as Persian and Urdu copy writes them

# Format characters that web copy and word processors leave in: zero-width space, non-joiner
# and joiner, word joiner, the left-to-right, right-to-left and Arabic letter marks, the bidi
# embeddings, overrides and isolates, the byte order mark inside text and the soft hyphen.
INVISIBLE_CHARS = "\u200b-\u200f\u2060\u061c\u202a-\u202e\u2066-\u2069\ufeff\u00ad"
INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")
