"""What a text looks like to a reader, for telling apart texts that display alike."""

import unicodedata

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing
# by a renderer that does not know them. Most are format characters (category Cf),
# which are removed as well; these ranges add the fillers and variation selectors.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORED = frozenset(
    chr(code) for low, high in _DEFAULT_IGNORABLE for code in range(low, high + 1)
) | {"\u2800"}  # braille pattern blank: a symbol by category, a space on screen


def _unseen(character: str) -> bool:
    return character in _IGNORED or character.isspace() or unicodedata.category(character) == "Cf"


def as_seen(text: str) -> str:
    """``text`` reduced to what a reader tells apart: invisible characters (format
    characters, default-ignorable code points, spaces) removed, compatibility forms
    (a fullwidth bracket U+FF3B, a mathematical bold U+1D41F) normalised (NFKC), case
    folded. Two texts with the same reduction display alike. Homoglyphs from other
    scripts (a Cyrillic o, U+043E, for a Latin o) are not folded: NFKC keeps them
    apart."""
    if text.isascii():  # the usual id: no format character, no compatibility form
        return "".join(text.lower().split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(character for character in folded if not _unseen(character))
