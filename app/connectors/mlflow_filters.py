"""Building MLflow search filter strings that carry any name exactly.

MLflow parses filters with sqlparse. For `name = '...'` it only strips the outer
quotes and never unescapes, so a name holding a single quote, or ending with a
backslash, cannot be written that way. Inside `IN (...)` lists it evaluates the
parenthesised tuple with Python's `ast.literal_eval`, which honours backslash
escapes; sqlparse's tokenizer also knows `\\'` and `\\\\` inside quotes. So every
value Gavel puts into a filter goes into an IN list as a backslash-escaped literal.
"""

from __future__ import annotations

from collections.abc import Iterable

_SIMPLE_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote_filter_value(value: str) -> str:
    """A single-quoted literal that MLflow's IN-list parser reads back as exactly value."""
    out = []
    for ch in value:
        if ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif not ch.isprintable():
            # Control and other invisible characters would break the tokenizer or the
            # literal; Python escapes keep them intact through literal_eval.
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def in_filter(attribute: str, values: Iterable[str]) -> str:
    """`attribute IN ('a', 'b')` with every value escaped; values must not be empty."""
    quoted = [quote_filter_value(v) for v in values]
    if not quoted:
        raise ValueError("an IN filter needs at least one value")
    return f"{attribute} IN ({', '.join(quoted)})"
