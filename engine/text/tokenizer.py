"""A fast regex tokenizer with fastai-style rules and special tokens, and `decode` back to readable text.

    tok = Tokenizer()
    tok("I LOVED it!!!! <br />Don't miss it")
    # ['xxbos', 'i', 'xxup', 'loved', 'it', 'xxrep', '4', '!', 'xxmaj', 'do', "n't", 'miss', 'it']
    decode(tok("Hello there, world."))   # 'Hello there, world.'

Rules, in order: HTML clean-up (`<br />`, entities, WikiText's ` @-@ `), repeated characters
(`xxrep n c`), repeated words (`xxwrep n w`), spaces around `/ # \\`, then the word split (contractions
such as `do n't`, `it 's` kept as in spaCy), then case: `xxup word` for ALL CAPS, `xxmaj word` for
Capitalised, everything else lower-cased; each document starts with `xxbos`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
REP, WREP, UP, MAJ = "xxrep", "xxwrep", "xxup", "xxmaj"
SPECIAL_TOKENS: tuple[str, ...] = (UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ)

_HTML_FIXES = {
    "#39;": "'",
    "amp;": "&",
    "#146;": "'",
    "nbsp;": " ",
    "#36;": "$",
    "\\n": "\n",
    "quot;": "'",
    "<br />": "\n",
    "<br/>": "\n",
    "<br>": "\n",
    '\\"': '"',
    "<unk>": UNK,
    " @.@ ": ".",
    " @-@ ": "-",
    " @,@ ": ",",
}
_RE_HTML_FIX = re.compile("|".join(re.escape(k) for k in sorted(_HTML_FIXES, key=len, reverse=True)))
_RE_CHAR_REPEAT = re.compile(r"(\S)(\1{2,})")
_RE_WORD_REPEAT = re.compile(r"(?:(?<=\s)|^)(\w+)\s+((?:\1\s+)+)\1(?=\s|\W|$)")
_RE_SPECIAL_CHARS = re.compile(r"([/#\\])")
# Words (with contractions split the spaCy way), numbers with inner separators, or single symbols.
_RE_WORD = re.compile(
    r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\d+(?:[.,:]\d+)+|\w+|[^\w\s]",
    re.IGNORECASE,
)


def fix_html(text: str) -> str:
    """Undo IMDb/WikiText markup: `<br />` to newline, leftover entities, ` @-@ ` joins."""
    if "&" in text:
        text = html.unescape(text)
    return _RE_HTML_FIX.sub(lambda m: _HTML_FIXES[m.group(0)], text)


def replace_char_repeats(text: str) -> str:
    """`cooool` -> `c xxrep 4 o l`: three or more of the same non-space character."""

    def _sub(m: re.Match[str]) -> str:
        char, rest = m.groups()
        return f" {REP} {len(rest) + 1} {char} "

    return _RE_CHAR_REPEAT.sub(_sub, text)


def replace_word_repeats(text: str) -> str:
    """`so so so good` -> `xxwrep 3 so good`: the same word three or more times in a row."""

    def _sub(m: re.Match[str]) -> str:
        word, middle = m.groups()
        return f" {WREP} {len(middle.split()) + 2} {word} "

    return _RE_WORD_REPEAT.sub(_sub, text)


def _case_tokens(words: list[str]) -> list[str]:
    tokens = [BOS]
    append = tokens.append
    for word in words:
        if word.islower():  # the common case first: already lower-case
            append(word)
        elif len(word) > 1 and word.isupper():
            append(UP)
            append(word.lower())
        elif len(word) > 1 and word[0].isupper() and word[1:].islower():
            append(MAJ)
            append(word.lower())
        else:
            append(word.lower())
    return tokens


class Tokenizer:
    """Callable text -> tokens; `tokenize_many` for a corpus. Pure Python regexes, no spaCy."""

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expects a str, got {type(text).__name__}")
        text = fix_html(text)
        text = replace_char_repeats(text)
        text = replace_word_repeats(text)
        text = _RE_SPECIAL_CHARS.sub(r" \1 ", text)
        return _case_tokens(_RE_WORD.findall(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self(t) for t in texts]


_NO_SPACE_BEFORE = {
    "-",
    ".",
    ",",
    "!",
    "?",
    ";",
    ":",
    ")",
    "]",
    "}",
    "%",
    "n't",
    "'s",
    "'re",
    "'ve",
    "'ll",
    "'d",
    "'m",
}
_NO_SPACE_AFTER = {"-", "(", "[", "{", "$", "#"}


def _expand_specials(tokens: Sequence[str]) -> list[str]:
    """Turn xxmaj/xxup/xxrep/xxwrep back into plain words; drop xxbos/xxpad/xxeos/xxfld."""
    words: list[str] = []
    case = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in (BOS, PAD, EOS, FLD):
            i += 1
            continue
        if token in (MAJ, UP):
            case = token
            i += 1
            continue
        if token in (REP, WREP) and i + 2 < len(tokens) and tokens[i + 1].isdigit():
            count, item = int(tokens[i + 1]), tokens[i + 2]
            if token == REP and words and not item.isalnum():
                words[-1] += item * count  # "great!!!!" rather than "great !!!!"
            else:
                words.extend([item] * count if token == WREP else [item * count])
            i += 3
            continue
        if token == "i":
            token = "I"  # the tokenizer lower-cases the pronoun without a marker (one letter)
        elif case == MAJ:
            token = token[:1].upper() + token[1:]
        elif case == UP:
            token = token.upper()
        case = None
        words.append(token)
        i += 1
    return words


def decode(tokens: Sequence[str]) -> str:
    """Readable text from tokens: specials undone, no space before punctuation or contractions."""
    words = _expand_specials(tokens)
    pieces: list[str] = []
    for index, word in enumerate(words):
        if index > 0 and word not in _NO_SPACE_BEFORE and words[index - 1] not in _NO_SPACE_AFTER:
            pieces.append(" ")
        pieces.append(word)
    return "".join(pieces)
