"""Splitting a one-column full name ("Jane Q. Doe Jr.", "Alex & Sam Rivera") into first and last.

SimplePractice reports and vCards without N give one string for a person's name. The first word
is the first name and the last word (with its particles: "de la Cruz") the last name; every word in
between is kept as the middle name (rule I12: no part of a name is lost), which becomes part of the
given names of a new client. Whole middle words could belong to either side ("Mary Ann", "García
López"), so those rows carry a badge for the review step, where the person can correct the split.
Titles (Dr., Ms.), generational suffixes (Jr., III) and nicknames in quotes or brackets are not
names and are left out.
"""

import re
import unicodedata
from dataclasses import dataclass

from app.imports.parsers.model import Badge

_PREFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "esq", "md", "phd"})
_PARTICLES = frozenset(
    {"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "la", "le", "van", "von",
     "den", "ter", "ten", "bin", "ibn", "al", "el", "y", "st", "ní", "nic", "ó", "ua"}
)
_NICKNAMES = re.compile(r'"[^"]*"|“[^”]*”|\([^)]*\)')
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PersonName:
    first: str | None
    last: str | None
    badges: tuple[Badge, ...] = ()
    middle: str | None = None


def split_full_name(full: str) -> PersonName:
    text = full
    if '"' in text or "(" in text or "“" in text:
        text = _NICKNAMES.sub(" ", text)
    couple = split_couple(text)
    if couple is None:
        return _split_person(text)
    first_person, second_person = couple
    name = _split_person(first_person)
    last = name.last
    if last is None:
        # "Alex & Sam Rivera": the shared surname is written once, after the second person.
        last = _split_person(second_person).last
    return PersonName(name.first, last, (*name.badges, Badge.COUPLE), name.middle)


def split_couple(text: str) -> tuple[str, str] | None:
    if "&" in text:
        first, _, second = text.partition("&")
    elif " and " in text.lower():
        first, second = _AND.split(text, maxsplit=1)
    else:
        return None
    if not first.strip() or not second.strip():
        return None
    return first, second


def name_key(text: str) -> str:
    """Names as a person compares them: no case, accents or punctuation ("O’Brien" = "o brien")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.split())


def _split_person(text: str) -> PersonName:
    before, comma, after = text.partition(",")
    if comma and not all(_bare(t) in _SUFFIXES for t in after.split()):
        # "Doe, Jane Q." is last name first.
        given = _strip_affixes(after.split())
        last = " ".join(before.split()) or None
        if not given:
            return PersonName(None, last)
        return PersonName(given[0], last, _middle_badges(given[1:]), _joined(given[1:]))
    tokens = _strip_affixes(before.split())
    if not tokens:
        return PersonName(None, None)
    if len(tokens) == 1:
        return PersonName(tokens[0], None)
    start = len(tokens) - 1
    while start > 1 and _bare(tokens[start - 1]) in _PARTICLES:
        start -= 1
    middle = tokens[1:start]
    return PersonName(tokens[0], " ".join(tokens[start:]), _middle_badges(middle), _joined(middle))


def _joined(words: list[str]) -> str | None:
    return " ".join(words) or None


def _strip_affixes(tokens: list[str]) -> list[str]:
    while len(tokens) > 1 and _bare(tokens[0]) in _PREFIXES:
        tokens = tokens[1:]
    while len(tokens) > 1 and _bare(tokens[-1]) in _SUFFIXES:
        tokens = tokens[:-1]
    return tokens


def _middle_badges(middle: list[str]) -> tuple[Badge, ...]:
    if all(_is_initial(t) for t in middle):
        return ()
    return (Badge.NAME_SPLIT_GUESSED,)


def _is_initial(token: str) -> bool:
    return all(len(part) <= 1 for part in token.split("."))


def _bare(token: str) -> str:
    return token.casefold().strip(".,")
