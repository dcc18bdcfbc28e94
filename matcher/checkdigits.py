"""Published check-digit algorithms (REFERENCE.md §1.7, §1.9).

SC and JY numbers have a check digit whose algorithm is not published, so
there is deliberately nothing for them here: the registry decides.
"""
from __future__ import annotations

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"        # 31 chars, no I O S V Z
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]       # 1, 3, 9, 27, 19, 26, ...
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015: C18 = 31 - (sum(C_i * 3^(i-1) mod 31) mod 31), 31 -> 0."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_valid(code: str) -> bool:
    """Charset, region digits and the GB 32100 check character of an 18-char credit code."""
    return (len(code) == 18 and all(c in USCC_ALPHABET for c in code) and code[2:8].isdigit()
            and uscc_check_char(code[:17]) == code[17])


def org_code_valid(code9: str) -> bool:
    """GB 11714 organisation code (USCC positions 9-17): weights 3 7 9 10 5 8 4 2, mod 11."""
    if len(code9) != 9:
        return False
    try:
        total = sum(int(c, 36) * w for c, w in zip(code9[:8], _ORG_WEIGHTS))
    except ValueError:
        return False
    value = 11 - total % 11
    expected = "X" if value == 10 else "0" if value == 11 else str(value)
    return code9[8] == expected


def regno15_valid(number: str) -> bool:
    """GS 15-2006 15-digit business registration number (ISO 7064 MOD 11,10)."""
    if len(number) != 15 or not number.isdigit():
        return False
    p = 10
    for d in number[:14]:
        s = (p + int(d)) % 10 or 10
        p = (2 * s) % 11
    return (11 - p) % 10 == int(number[14])
