"""German compound words split against the index's own vocabulary.

"Hundesteuer" is "Hunde" + "Steuer" when both are words the index has seen: the split is the
greedy longest match from the left, backtracking when the rest does not split, with the linking
morphemes -s-, -es-, -n-, -en- allowed between parts ("Bibliotheksausweis",
"Schwerbehindertenausweis"). No dictionary ships with the engine: the catalogue's own words are
the dictionary, so the splitter knows the words of the administration and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Final

#: Linking morphemes (Fugenelemente) allowed between two parts, longest first.
LINKS: Final = ("es", "en", "s", "n", "")
#: Parts are at least this long ("Bau", "Amt", "Ehe").
MIN_PART: Final = 3
#: Shorter words are not split.
MIN_COMPOUND: Final = 6


def split_compound(word: str, is_word: Callable[[str], bool]) -> tuple[str, ...]:
    """The parts of `word` (a folded surface), or ``()`` when it is no compound of known words.

    `is_word` tells whether a string is a word of the vocabulary. The split with the longest first
    part wins; every part must be a word, and a word is only split into at least two parts.
    """
    length = len(word)
    if length < MIN_COMPOUND:
        return ()

    @cache
    def split_from(start: int) -> tuple[str, ...] | None:
        # The longest head first: "personalausweis|antrag" before "personal|ausweisantrag".
        for end in range(length, start + MIN_PART - 1, -1):
            if start == 0 and end == length:
                continue
            head = word[start:end]
            if not is_word(head):
                continue
            if end == length:
                return (head,)
            for link in LINKS:
                rest_start = end + len(link)
                if word.startswith(link, end) and length - rest_start >= MIN_PART:
                    rest = split_from(rest_start)
                    if rest is not None:
                        return (head, *rest)
        return None

    return split_from(0) or ()
