"""enuSpace's attrs text (``"transpose_a_ = false;transpose_b_ =true;"``), read as the original read it.

One grammar for the whole project: ``app.document.values`` (pin values of imported pages) and the blocks that
take such text (``Variable.attrs``) both call ``parse_attrs_string``. Imports nothing.
"""

from __future__ import annotations


def parse_attrs_string(text: str) -> dict[str, str]:
    """enuSpace's ``"transpose_a_ = false;transpose_b_ =true;"`` -> {"transpose_a": "false", ...}.

    Follows the original grammar: ``=`` switches to the value, ``;`` ends a pair, spaces and line ends
    are dropped, the first occurrence of a key wins, a trailing ``_`` on the key is dropped and empty
    values are left out (they mean "the TensorFlow default").
    """
    pairs: dict[str, str] = {}
    key: list[str] = []
    val: list[str] = []
    in_value = False

    def store() -> None:
        k = "".join(key)
        v = "".join(val)
        k = k.removesuffix("_")
        if k and v and k not in pairs:
            pairs[k] = v

    for ch in text:
        if ch == "=":
            in_value = True
        elif ch == ";":
            store()
            key.clear()
            val.clear()
            in_value = False
        elif ch in " \r\n":
            continue
        elif in_value:
            val.append(ch)
        else:
            key.append(ch)
    if key:
        store()
    return pairs
