"""Keyword lists and context data: loading, validation, versions, reload on change.

The lists are data the enforcement team owns (config/keywords/*.yaml). A bad
entry refuses the whole file with file, line and reason, so a typo never
silently weakens detection. A file's version is the hash of its content (and
of the shared macros), stamped on every finding made with it.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import re2
import yaml

from nlp.normalize import Normalizer

log = logging.getLogger(__name__)

TYPES = ("illegal_additive", "disease_claim", "minors_targeting", "medical_endorsement",
         "efficacy_guarantee", "absolute_term", "unapproved_function", "health_function_on_ordinary_food")
# health_function is resolved by product kind (nlp.classify)
ENTRY_TYPES = TYPES + ("health_function",)
SEVERITIES = ("low", "medium", "high")
KINDS = ("普通食品", "保健食品", "特殊医学用途配方食品", "婴幼儿配方食品", "食用农产品", "其他")
ENTRY_KEYS = {"id", "type", "severity", "legal_basis", "phrases", "pattern", "pinyin", "initials", "function",
              "negatable", "kinds", "not_kinds", "examples"}
NOT_NEGATABLE = ("efficacy_guarantee", "absolute_term")
MACRO_RE = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
RELOAD_EVERY_S = 3.0
CONFIG_DIR_DEFAULT = Path(__file__).resolve().parent.parent / "config"


class LexiconError(ValueError):
    """A keyword or context file that cannot be used, with where and why."""

    def __init__(self, path: Path | str, line: int, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass
class Entry:
    id: str
    type: str
    severity: str
    legal_basis: str
    file: str
    line: int
    version: str
    phrases: list[str] = field(default_factory=list)        # normalised
    raw_phrases: list[str] = field(default_factory=list)
    pattern: str = ""                                        # RE2 source with macros expanded
    regex: object = None
    # a pattern too heavy to always run on Python's re (regex is RE2) may still have a twin there,
    # run while a text's backtracking budget lasts: RE2 builds its DFA state by state on new text
    twin: object = None
    work: int = 0                                            # steps one attempt of the twin may take
    pinyin: bool = False
    initials: bool = False
    function: int | None = None
    negatable: bool = True
    kinds: tuple[str, ...] = ()
    not_kinds: tuple[str, ...] = ()
    examples_match: list[str] = field(default_factory=list)
    examples_no_match: list[str] = field(default_factory=list)

    def applies_to(self, kind: str) -> bool:
        return (not self.kinds or kind in self.kinds) and kind not in self.not_kinds


# -- RE2 patterns ------------------------------------------------------------

def _re2_options():
    opts = re2.Options()
    opts.log_errors = False
    opts.max_mem = 64 << 20         # a pattern whose automaton needs more is refused, not run
    return opts


def check_pattern(pattern: str) -> str | None:
    """Why a pattern is refused, or None. Bounded repetition only; nothing that can match empty."""
    try:
        compiled = re2.compile(pattern, _re2_options())
    except Exception as exc:  # re2.Error: unsupported syntax (backreferences, lookaround) or too big
        msg = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"pattern refused by RE2: {msg}"
    if compiled.search("") is not None:
        return "pattern matches the empty string"
    try:
        tree = re._parser.parse(pattern)   # same syntax for what RE2 accepts; used only to inspect repeats
    except re.error:
        return None
    return _check_repeats(tree, depth=0)


# Python's re runs a short anchored pattern several times faster than the RE2 wrapper, which
# re-encodes the whole text to UTF-8 on every call. A pattern RE2 accepted runs on re only when
# both engines mean the same thing by it and its backtracking work is provably small (an upper
# bound of the steps one match attempt can take, whatever the text); else on RE2.
MAX_BACKTRACK_PATHS = 5000
MAX_BACKTRACK_WORK = 20000
_RE_UNSAFE_SYNTAX = ("\\p", "\\P", "\\C", "\\Q", "\\x{", "\\z", "{,")
_RE_SAFE_AT = ("AT_BEGINNING", "AT_BEGINNING_STRING", "AT_BOUNDARY", "AT_NON_BOUNDARY", "AT_END_STRING")
_RE_SAFE_CATEGORIES = ("CATEGORY_DIGIT", "CATEGORY_NOT_DIGIT", "CATEGORY_WORD", "CATEGORY_NOT_WORD",
                       "CATEGORY_SPACE", "CATEGORY_NOT_SPACE")


def python_dollar(pattern: str) -> str:
    """The pattern with RE2's ``$`` (end of text) written as Python's ``\\Z``: Python's ``$`` also
    matches before a final line break."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out[-1] == "[" or out[-1] == "[^"):
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
        elif ch == "$":
            ch = "\\Z"
        out.append(ch)
        i += 1
    return "".join(out)


def python_pattern(pattern: str) -> str:
    """An RE2 pattern as Python's re writes it (code point escapes, end of text)."""
    from nlp.scan import python_syntax
    return python_dollar(python_syntax(pattern))


def python_twin(pattern: str, compiled_re2, examples: list[str] = ()):
    """A Python `re` compile of a validated pattern that means what the RE2 one means, or None."""
    import warnings
    pattern = python_pattern(pattern)
    if any(tok in pattern for tok in _RE_UNSAFE_SYNTAX) or pattern.count("(?") != pattern.count("(?:"):
        return None             # flags, named groups, POSIX/Unicode classes: the engines differ
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            twin = re.compile(pattern, re.ASCII)
    except (re.error, Warning, RecursionError):
        return None
    for text in examples:               # belt and braces: both engines agree on the examples
        a, b = compiled_re2.search(text), twin.search(text)
        if (a and a.span()) != (b and b.span()):
            return None
    return twin


def backtrack_work(pattern: str) -> float:
    """Upper bound of the steps one anchored attempt of the pattern takes on Python's `re`
    (inf for constructs whose work has no bound)."""
    try:
        tree = re._parser.parse(python_pattern(pattern), re.ASCII)
    except (re.error, RecursionError):
        return math.inf
    if _paths(tree, limit=math.inf) == math.inf:
        return math.inf
    return _work(tree, limit=math.inf, paths_limit=math.inf)


def fast_regex(pattern: str, compiled_re2, examples: list[str] = ()):
    """The engine to run a validated pattern with: a Python `re` twin when that is safe, else RE2."""
    twin = python_twin(pattern, compiled_re2, examples)
    if twin is None:
        return compiled_re2
    tree = re._parser.parse(python_pattern(pattern), re.ASCII)
    if _paths(tree) > MAX_BACKTRACK_PATHS or _work(tree) > MAX_BACKTRACK_WORK:
        return compiled_re2
    return twin


def _paths(seq, limit: float = MAX_BACKTRACK_PATHS) -> float:
    """Upper bound of the ways a parsed pattern can match at one position (backtracking work);
    inf for constructs without a bound. Stops counting once past ``limit``."""
    import re._constants as C
    total = 1
    for op, av in seq:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            if hi == C.MAXREPEAT:
                return math.inf
            w = _paths(sub, limit)
            total *= sum(w ** k for k in range(lo, hi + 1)) if w > 1 else hi - lo + 1
        elif op == C.SUBPATTERN:
            total *= _paths(av[-1], limit)
        elif op == C.BRANCH:
            total *= _branch_paths(av[1], limit)
        elif op == C.AT:
            if str(av) not in _RE_SAFE_AT:
                return math.inf
        elif op == C.IN:
            if any(o == C.CATEGORY and str(a) not in _RE_SAFE_CATEGORIES for o, a in av):
                return math.inf
        elif op in (C.GROUPREF, C.GROUPREF_EXISTS, C.ASSERT, C.ASSERT_NOT, C.ATOMIC_GROUP):
            return math.inf
        if total > limit:
            return total
    return total


def _work(seq, limit: float = MAX_BACKTRACK_WORK, paths_limit: float = MAX_BACKTRACK_PATHS) -> float:
    """Upper bound of the steps one anchored match attempt takes: each element is tried once per
    way of matching what precedes it; every alternative of a branch may be tried. Stops counting
    once past ``limit``."""
    import re._constants as C
    paths, work = 1, 0
    for op, av in seq:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            sp, sw = _paths(sub, paths_limit), _work(sub, limit, paths_limit)
            steps = sum(sp ** k for k in range(hi)) * sw if sp > 1 else hi * sw
            ways = sum(sp ** k for k in range(lo, hi + 1)) if sp > 1 else hi - lo + 1
        elif op == C.SUBPATTERN:
            steps, ways = _work(av[-1], limit, paths_limit), _paths(av[-1], paths_limit)
        elif op == C.BRANCH:
            steps = sum(_work(a, limit, paths_limit) for a in av[1])
            ways = _branch_paths(av[1], paths_limit)
        else:
            steps, ways = 1, 1
        work += paths * steps
        paths *= ways
        if work > limit:
            return work
    return work


def _branch_paths(alts, limit: float = MAX_BACKTRACK_PATHS) -> float:
    """Alternatives that can match at one position must share a first character."""
    firsts = [(_first_chars(a), _paths(a, limit)) for a in alts]
    if any(f is None for f, _ in firsts):
        return sum(p for _, p in firsts)
    chars = set().union(*(f for f, _ in firsts))
    return max((sum(p for f, p in firsts if c in f) for c in chars), default=1)


def _first_chars(seq) -> set[int] | None:
    """The characters a match of the sequence can start with, or None when any."""
    import re._constants as C
    if not len(seq):
        return None
    op, av = seq[0]
    if op == C.LITERAL:
        return {av}
    if op == C.IN and all(o == C.LITERAL for o, _ in av):
        return {a for _, a in av}
    if op == C.SUBPATTERN:
        return _first_chars(av[-1])
    if op == C.BRANCH:
        out: set[int] = set()
        for alt in av[1]:
            f = _first_chars(alt)
            if f is None:
                return None
            out |= f
        return out
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _first_chars(av[2])
    return None


def _check_repeats(tree, depth: int) -> str | None:
    import re._constants as C
    for op, av in tree:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            if hi == C.MAXREPEAT:
                return "unbounded repetition (*, + or {n,}) can run away: use a bounded window such as {0,6}"
            if hi > 50:
                return f"repetition bound {hi} too large (max 50)"
            if depth >= 1 and hi > 1:
                return "nested repetition can run away: flatten the pattern"
            why = _check_repeats(sub, depth + (1 if hi > 1 else 0))
            if why:
                return why
        elif op == C.SUBPATTERN:
            why = _check_repeats(av[-1], depth)
            if why:
                return why
        elif op == C.BRANCH:
            for alt in av[1]:
                why = _check_repeats(alt, depth)
                if why:
                    return why
    return None


def expand_macros(pattern: str, macros: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        if m.group(1) not in macros:
            raise KeyError(m.group(1))
        return macros[m.group(1)]
    return MACRO_RE.sub(sub, pattern)


# -- YAML with line numbers --------------------------------------------------

def _load_yaml(path: Path) -> tuple[object, object, str]:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LexiconError(path, (mark.line + 1) if mark else 1, f"not valid YAML: {exc}") from None
    return data, node, text


def _entry_lines(node) -> list[int]:
    """Line of each item under the top-level `entries:` key."""
    if node is None or not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "entries" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _key_line(node, key: str) -> int:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return k.start_mark.line + 1
    return 1


# -- keyword files -------------------------------------------------------------

def load_macros(path: Path) -> tuple[dict[str, str], str]:
    if not path.exists():
        return {}, ""
    data, node, text = _load_yaml(path)
    macros = (data or {}).get("macros") or {}
    if not isinstance(macros, dict) or not all(isinstance(v, str) for v in macros.values()):
        raise LexiconError(path, _key_line(node, "macros"), "macros must map NAME to a pattern string")
    # macros may use macros defined before them
    out: dict[str, str] = {}
    for name, value in macros.items():
        try:
            out[name] = expand_macros(value, out)
        except KeyError as exc:
            raise LexiconError(path, _key_line(node, "macros"), f"macro {name} uses unknown macro {exc}") from None
    return out, text


def load_keyword_file(path: Path, normalizer: Normalizer, macros: dict[str, str], macros_text: str = "",
                      seen_ids: set[str] | None = None) -> list[Entry]:
    """Validate and load one list; raise LexiconError on the first bad entry."""
    data, node, text = _load_yaml(path)
    version = f"{path.stem}@" + hashlib.sha256((text + "\x1f" + macros_text).encode()).hexdigest()[:12]
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise LexiconError(path, 1, "expected a mapping with an `entries:` list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise LexiconError(path, _key_line(node, "defaults"), "`defaults` must be a mapping")
    lines = _entry_lines(node)
    seen_ids = seen_ids if seen_ids is not None else set()
    out = []
    for i, raw in enumerate(data["entries"]):
        line = lines[i] if i < len(lines) else 1
        out.append(_entry(path, line, raw, defaults, version, normalizer, macros, seen_ids))
    return out


def _entry(path, line, raw, defaults, version, normalizer, macros, seen_ids) -> Entry:
    def bad(reason: str):
        return LexiconError(path, line, reason)

    if not isinstance(raw, dict):
        raise bad("an entry must be a mapping with id, phrases or pattern, type ...")
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise bad(f"unknown key(s): {', '.join(sorted(unknown))}")
    e = {**defaults, **raw}
    eid = e.get("id")
    if not isinstance(eid, str) or not eid.strip():
        raise bad("entry has no id")
    if eid in seen_ids:
        raise bad(f"duplicate id {eid!r}")
    seen_ids.add(eid)
    etype = e.get("type")
    if etype not in ENTRY_TYPES:
        raise bad(f"{eid}: type {etype!r} is not one of {', '.join(ENTRY_TYPES)}")
    severity = e.get("severity", "medium")
    if severity not in SEVERITIES:
        raise bad(f"{eid}: severity {severity!r} is not one of low, medium, high")
    basis = e.get("legal_basis", "")
    if not isinstance(basis, str) or not basis.strip():
        raise bad(f"{eid}: legal_basis is required (law and article)")
    phrases = e.get("phrases") or []
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise bad(f"{eid}: phrases must be a list of non-empty strings")
    pattern = e.get("pattern") or ""
    if not phrases and not pattern:
        raise bad(f"{eid}: needs phrases or a pattern")
    entry = Entry(id=eid, type=etype, severity=severity, legal_basis=basis.strip(), file=str(path), line=line,
                  version=version)
    for p in phrases:
        norm = normalizer.plain(p)
        if len(norm) < 2:
            raise bad(f"{eid}: phrase {p!r} is shorter than two characters after normalisation")
        entry.phrases.append(norm)
        entry.raw_phrases.append(p)
    if pattern:
        if not isinstance(pattern, str):
            raise bad(f"{eid}: pattern must be a string")
        try:
            expanded = expand_macros(pattern, macros)
        except KeyError as exc:
            raise bad(f"{eid}: unknown macro {{{exc.args[0]}}} (see config/keywords/_macros.yaml)") from None
        why = check_pattern(expanded)
        if why:
            raise bad(f"{eid}: {why}")
        entry.pattern = expanded
        examples = [normalizer.plain(x) for x in (examples_of(e) or [])]
        compiled = re2.compile(expanded, _re2_options())
        entry.regex = fast_regex(expanded, compiled, examples)
        if entry.regex is compiled:
            entry.twin = python_twin(expanded, compiled, examples)
            entry.work = backtrack_work(expanded) if entry.twin is not None else 0
    for key in ("pinyin", "initials", "negatable"):
        if key in e and not isinstance(e[key], bool):
            raise bad(f"{eid}: {key} must be true or false")
    entry.pinyin = bool(e.get("pinyin", False))
    entry.initials = bool(e.get("initials", False))
    entry.negatable = bool(e.get("negatable", etype not in NOT_NEGATABLE))
    fn = e.get("function")
    if fn is not None and (not isinstance(fn, int) or not 1 <= fn <= 25):
        raise bad(f"{eid}: function must be an id from config/health_functions.yaml (1-25)")
    if etype == "health_function" and fn is None:
        raise bad(f"{eid}: a health_function entry needs `function` (its id in config/health_functions.yaml)")
    entry.function = fn
    for key in ("kinds", "not_kinds"):
        val = e.get(key) or []
        if not isinstance(val, list) or any(k not in KINDS for k in val):
            raise bad(f"{eid}: {key} must list product kinds from {', '.join(KINDS)}")
        setattr(entry, key, tuple(val))
    examples = e.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise bad(f"{eid}: examples must be a mapping with `match` and/or `no_match` lists")
    for key, target in (("match", entry.examples_match), ("no_match", entry.examples_no_match)):
        vals = examples.get(key) or []
        if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
            raise bad(f"{eid}: examples.{key} must be a list of strings")
        target.extend(vals)
    return entry


def examples_of(e: dict) -> list[str]:
    """The example strings of a raw entry, when they are well-formed (validated later)."""
    ex = e.get("examples")
    if not isinstance(ex, dict):
        return []
    return [x for key in ("match", "no_match") if isinstance(ex.get(key), list) for x in ex[key] if isinstance(x, str)]


# -- context, normalisation, functions ------------------------------------------

@dataclass
class Context:
    mask: list = field(default_factory=list)            # compiled RE2
    population: list = field(default_factory=list)
    nutrient_sentences: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    negation_cues: list[str] = field(default_factory=list)
    negation_chars: str = ""
    negation_blockers: list[str] = field(default_factory=list)  # a cue does not reach past them (不会告诉你…降糖)
    warning_after: list[str] = field(default_factory=list)
    ask_words: list[str] = field(default_factory=list)      # a question that asks (能...吗)
    answer_yes: list[str] = field(default_factory=list)
    answer_no: list[str] = field(default_factory=list)
    adult_markers: list[str] = field(default_factory=list)  # the consumer is an adult (成人, 孕妇吃了)
    child_words: list[str] = field(default_factory=list)
    clause_breaks: str = ",。;!?\n:"
    version: str = ""


_YAML_STR = "tag:yaml.org,2002:str"
_YAML_NULL = "tag:yaml.org,2002:null"


def _refuse_non_text(path: Path, node) -> None:
    """Every key and every item of a context file is text. YAML reads an unquoted yes/no/on/off as a
    boolean and 12 as a number: `yes:` became the key True, so questions.get("yes") found nothing
    and the list was silently empty. Refuse such a scalar with its line instead."""
    stack = [node] if node is not None else []
    while stack:
        x = stack.pop()
        if isinstance(x, yaml.MappingNode):
            for k, v in x.value:
                if not isinstance(k, yaml.ScalarNode) or k.tag != _YAML_STR:
                    raise LexiconError(path, k.start_mark.line + 1,
                                       f"key {getattr(k, 'value', k)!r} is not read as text "
                                       f"({k.tag.rsplit(':', 1)[-1]}): quote it")
                if not (isinstance(v, yaml.ScalarNode) and v.tag == _YAML_NULL):
                    stack.append(v)
        elif isinstance(x, yaml.SequenceNode):
            stack.extend(x.value)
        elif x.tag != _YAML_STR:
            raise LexiconError(path, x.start_mark.line + 1,
                               f"{x.value!r} is not read as text ({x.tag.rsplit(':', 1)[-1]}): quote it")


def load_context(path: Path, normalizer: Normalizer) -> Context:
    data, node, text = _load_yaml(path)
    if data is not None and not isinstance(data, dict):
        raise LexiconError(path, 1, "the context file must be a mapping of sections")
    _refuse_non_text(path, node)
    data = data or {}
    ctx = Context(version="context@" + hashlib.sha256(text.encode()).hexdigest()[:12])
    for key, target in (("mask_patterns", ctx.mask), ("population_patterns", ctx.population)):
        for pat in data.get(key) or []:
            pat_n = pat   # patterns are written for normalised text (NFKC punctuation, simplified)
            why = check_pattern(pat_n)
            if why:
                raise LexiconError(path, _key_line(node, key), f"{key}: {pat!r}: {why}")
            target.append(fast_regex(pat_n, re2.compile(pat_n, _re2_options())))
    ctx.nutrient_sentences = [normalizer.plain(s) for s in data.get("nutrient_sentences") or []]
    ctx.protected = [normalizer.plain(s) for s in data.get("protected_words") or []]
    ctx.negation_cues = [normalizer.plain(s) for s in data.get("negation_cues") or []]
    ctx.negation_blockers = [normalizer.plain(s) for s in data.get("negation_blockers") or []]
    ctx.negation_chars = "".join(data.get("negation_chars") or [])
    ctx.warning_after = [normalizer.plain(s) for s in data.get("warning_after") or []]
    questions = data.get("questions") or {}
    ctx.ask_words = [normalizer.plain(s) for s in questions.get("ask") or []]
    ctx.answer_yes = [normalizer.plain(s) for s in questions.get("yes") or []]
    ctx.answer_no = [normalizer.plain(s) for s in questions.get("no") or []]
    adults = data.get("adults") or {}
    ctx.adult_markers = [normalizer.plain(s) for s in adults.get("markers") or []]
    ctx.child_words = [normalizer.plain(s) for s in adults.get("child_words") or []]
    breaks = data.get("clause_breaks")
    if breaks:
        import unicodedata
        ctx.clause_breaks = unicodedata.normalize("NFKC", breaks)
    return ctx


def load_normalizer(path: Path) -> tuple[Normalizer, str]:
    if not path.exists():
        return Normalizer(), ""
    data, node, text = _load_yaml(path)
    data = data or {}
    subs = data.get("substitutions") or {}
    if not isinstance(subs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in subs.items()):
        raise LexiconError(path, _key_line(node, "substitutions"), "substitutions must map variant to word")
    words = data.get("pinyin_words") or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise LexiconError(path, _key_line(node, "pinyin_words"), "pinyin_words must be a list of words")
    emoji = data.get("emoji_substitutions") or {}
    if not isinstance(emoji, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in emoji.items()):
        raise LexiconError(path, _key_line(node, "emoji_substitutions"),
                           "emoji_substitutions must map an emoji to a character (quote the emoji)")
    try:
        return Normalizer(str(data.get("separators") or ""), subs, words, emoji), text
    except ValueError as exc:
        raise LexiconError(path, _key_line(node, "emoji_substitutions"), str(exc)) from None


@dataclass
class HealthFunctions:
    names: dict[int, str]                 # id -> current name
    aliases: dict[str, int]               # normalised name/old name -> id
    nutrient_id: int = 25
    nutrient_prefix: str = "补充"

    def resolve(self, registry_function: str, normalizer: Normalizer) -> int | None:
        """Function id of a registry function string (old or new wording), or None."""
        key = _function_key(normalizer.plain(registry_function))
        if key in self.aliases:
            return self.aliases[key]
        if key.startswith(self.nutrient_prefix):
            return self.nutrient_id
        return None


def _function_key(s: str) -> str:
    """Spelling-insensitive key: 份/分, 粘/黏, 作用/功能, bracketed text and punctuation dropped."""
    s = re.sub(r"[（(][^)）]*[)）]", "", s)
    s = s.replace("份", "分").replace("黏", "粘").replace("功能", "作用").replace("视力疲劳", "视疲劳")
    return re.sub(r"[\s,。、;:]", "", s)


def load_functions(path: Path, normalizer: Normalizer) -> HealthFunctions:
    data, node, _ = _load_yaml(path)
    names, aliases = {}, {}
    for item in (data or {}).get("functions") or []:
        fid, name = item.get("id"), item.get("name")
        if not isinstance(fid, int) or not isinstance(name, str):
            raise LexiconError(path, _key_line(node, "functions"), f"bad function item {item!r}")
        names[fid] = name
        for alias in [name, *(item.get("old") or [])]:
            aliases[_function_key(normalizer.plain(alias))] = fid
    ns = (data or {}).get("nutrient_supplement") or {}
    return HealthFunctions(names, aliases, ns.get("id", 25), ns.get("prefix", "补充"))


# -- the bundle and its reloading ------------------------------------------------

@dataclass
class Bundle:
    normalizer: Normalizer
    entries: list[Entry]
    context: Context
    functions: HealthFunctions
    versions: dict[str, str]              # file name -> version
    scanner: object = None                # nlp.scan.Scanner, built lazily


def config_dir() -> Path:
    from shian.settings import get_settings
    return Path(get_settings().config_dir)


def watched_files(base: Path) -> list[Path]:
    kw = base / "keywords"
    return sorted([*kw.glob("*.yaml"), base / "claim_context.yaml", base / "normalisation.yaml",
                   base / "health_functions.yaml"])


def load_bundle(base: Path | None = None) -> Bundle:
    """Load and validate everything; raises LexiconError on the first problem."""
    base = Path(base or config_dir())
    normalizer, _ = load_normalizer(base / "normalisation.yaml")
    macros, macros_text = load_macros(base / "keywords" / "_macros.yaml")
    entries: list[Entry] = []
    versions: dict[str, str] = {}
    seen: set[str] = set()
    files = sorted(p for p in (base / "keywords").glob("*.yaml") if not p.name.startswith("_"))
    if not files:
        raise LexiconError(base / "keywords", 0, "no keyword lists (*.yaml) found")
    for path in files:
        loaded = load_keyword_file(path, normalizer, macros, macros_text, seen)
        entries.extend(loaded)
        versions[path.name] = loaded[0].version if loaded else f"{path.stem}@empty"
    context = load_context(base / "claim_context.yaml", normalizer)
    versions["claim_context.yaml"] = context.version
    functions = load_functions(base / "health_functions.yaml", normalizer)
    from nlp.scan import Scanner
    bundle = Bundle(normalizer, entries, context, functions, versions)
    bundle.scanner = Scanner(bundle)
    return bundle


class Holder:
    """The current bundle; re-checks file mtimes at most every few seconds.

    A changed file that fails validation is logged and the previous lists stay
    in force, so a long-running crawler never loses its rules.
    """

    def __init__(self, base: Path | None = None):
        self._base = base
        self._lock = threading.Lock()
        self._bundle: Bundle | None = None
        self._stamp: tuple = ()
        self._checked = 0.0
        self.last_error: LexiconError | None = None

    def _files_stamp(self, base: Path) -> tuple:
        out = []
        for p in watched_files(base):
            try:
                st = p.stat()
                out.append((str(p), st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                continue
        return tuple(out)

    def get(self) -> Bundle:
        now = time.monotonic()
        if self._bundle is not None and now - self._checked < RELOAD_EVERY_S:
            return self._bundle
        with self._lock:
            base = Path(self._base or config_dir())
            stamp = self._files_stamp(base)
            self._checked = time.monotonic()
            if self._bundle is not None and stamp == self._stamp:
                return self._bundle
            try:
                bundle = load_bundle(base)
            except LexiconError as exc:
                if self._bundle is None:
                    raise
                if self.last_error is None or str(exc) != str(self.last_error):
                    log.error("keyword lists not reloaded, keeping the previous ones: %s", exc)
                self.last_error = exc
                self._stamp = stamp
                return self._bundle
            if self._bundle is not None:
                log.info("keyword lists reloaded: %s", ", ".join(bundle.versions.values()))
            self._bundle, self._stamp, self.last_error = bundle, stamp, None
            return bundle

    def force_check(self) -> Bundle:
        self._checked = 0.0
        return self.get()
