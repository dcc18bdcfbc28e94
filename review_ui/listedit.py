"""Editing a keyword list file (config/keywords/NAME.yaml) as text, so its comments and layout survive.

An edit is a pure function from the file's text to the candidate text: add an entry, change an entry's
severity, disable an entry (commented out in place with `#~ `, under a header saying who, when and why;
the loader's format has no "disabled" key) or enable it again. Every candidate is validated by the nlp
stage's own loader (nlp.lexicon.load_bundle) in a temporary copy of the config dir before anything is
published; a refused candidate comes back with the loader's file, line and reason.
"""
from __future__ import annotations

import difflib
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from nlp.lexicon import ENTRY_TYPES, SEVERITIES, LexiconError, load_bundle, watched_files

DISABLED = "#~ "
DISABLED_LINE = re.compile(r"^( *)#~(?: |$)(.*)$")
DISABLED_HEADER = "# 已停用"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ID_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")


class EditError(ValueError):
    """An edit that cannot be made; the message is for the user (Chinese)."""


@dataclass
class ListEntry:
    """One entry as the edit page shows it."""
    id: str
    type: str
    severity: str
    legal_basis: str
    phrases: list[str] = field(default_factory=list)
    pattern: str = ""
    disabled: bool = False
    note: str = ""                   # the header of a disabled entry: who, when, why


@dataclass
class ListFile:
    name: str
    path: Path
    text: str
    sha: str
    defaults: dict
    entries: list[ListEntry]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def list_path(config_dir: Path, name: str) -> Path:
    if not NAME_RE.match(name or ""):
        raise EditError("词表名称无效")
    path = Path(config_dir) / "keywords" / f"{name}.yaml"
    if not path.is_file():
        raise EditError(f"没有名为 {name} 的词表")
    return path


def list_names(config_dir: Path) -> list[str]:
    return sorted(p.stem for p in (Path(config_dir) / "keywords").glob("*.yaml")
                  if not p.name.startswith("_") and NAME_RE.match(p.stem))


# -- reading ---------------------------------------------------------------------

def _compose(text: str):
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise EditError(f"词表文件不是有效的 YAML：{exc}") from None


def _entries_node(node):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "entries":
                return value
    return None


def _key(mapping, name: str):
    for key, value in mapping.value:
        if key.value == name:
            return key, value
    return None, None


def _last_mark(node):
    """Where the node's last scalar or flow collection ends (block nodes end at the next token)."""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        return node.end_mark
    children = [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
    marks = [_last_mark(c) for c in children]
    return max(marks, key=lambda m: m.index) if marks else node.end_mark


@dataclass
class _Located:
    id: str
    node: object
    dash_col: int
    first: int                        # 0-based line of the "- " of the entry
    last: int                         # 0-based last line of the entry (inclusive)


def _locate(text: str) -> tuple[object, list[_Located]]:
    data, root = _compose(text)
    seq = _entries_node(root)
    if not isinstance(data, dict) or not isinstance(seq, yaml.SequenceNode):
        raise EditError("词表文件缺少 entries 列表")
    lines = text.split("\n")
    out = []
    for item in seq.value:
        if not isinstance(item, yaml.MappingNode) or item.flow_style:
            raise EditError(f"第 {item.start_mark.line + 1} 行的条目不是多行格式，请手工编辑该文件")
        _, id_node = _key(item, "id")
        line = item.start_mark.line
        before = lines[line][:item.start_mark.column]
        if not before.rstrip().endswith("-"):
            raise EditError(f"第 {line + 1} 行的条目格式无法识别，请手工编辑该文件")
        end = _last_mark(item)
        last = end.line if end.column > 0 else end.line - 1
        out.append(_Located(str(id_node.value) if id_node is not None else "", item, before.rstrip().rfind("-"),
                            line, max(last, line)))
    return seq, out


def _disabled_blocks(lines: list[str]) -> list[tuple[int, int, int]]:
    """(first, last, indent) line ranges of disabled entries; each starts at a commented "- "."""
    blocks: list[list[int]] = []
    for i, line in enumerate(lines):
        m = DISABLED_LINE.match(line)
        if not m:
            continue
        starts = m.group(2).startswith("- ")
        if starts or not blocks or blocks[-1][1] != i - 1:
            if not starts:
                continue   # a stray "#~" line that is not part of an entry
            blocks.append([i, i, len(m.group(1))])
        else:
            blocks[-1][1] = i
    return [tuple(b) for b in blocks]


def _uncomment(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = DISABLED_LINE.match(line)
        out.append(m.group(1) + m.group(2) if m else line)
    return out


def _disabled_entry(lines: list[str], first: int, last: int) -> dict | None:
    try:
        data = yaml.safe_load("\n".join(_uncomment(lines[first:last + 1])))
    except yaml.YAMLError:
        return None
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and data[0].get("id"):
        return data[0]
    return None


def read_list(config_dir: Path, name: str) -> ListFile:
    path = list_path(config_dir, name)
    text = path.read_text(encoding="utf-8")
    data, _ = _compose(text)
    if not isinstance(data, dict):
        raise EditError("词表文件缺少 entries 列表")
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    entries = []
    for raw in data.get("entries") or []:
        if isinstance(raw, dict):
            entries.append(_list_entry(raw, defaults))
    lines = text.split("\n")
    for first, last, _indent in _disabled_blocks(lines):
        raw = _disabled_entry(lines, first, last)
        if raw:
            header = lines[first - 1].strip() if first > 0 else ""
            e = _list_entry(raw, defaults)
            e.disabled = True
            e.note = header[1:].strip() if header.startswith(DISABLED_HEADER) else ""
            entries.append(e)
    return ListFile(name, path, text, sha(text), defaults, entries)


def _list_entry(raw: dict, defaults: dict) -> ListEntry:
    e = {**defaults, **raw}
    phrases = e.get("phrases") if isinstance(e.get("phrases"), list) else []
    return ListEntry(id=str(e.get("id", "")), type=str(e.get("type", "")), severity=str(e.get("severity", "medium")),
                     legal_basis=str(e.get("legal_basis", "")), phrases=[str(p) for p in phrases],
                     pattern=str(e.get("pattern") or ""))


# -- edits (text -> text) ----------------------------------------------------------

def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _find(text: str, entry_id: str) -> _Located:
    _, located = _locate(text)
    for loc in located:
        if loc.id == entry_id:
            return loc
    raise EditError(f"词表中没有启用的条目 {entry_id}")


def set_severity(text: str, entry_id: str, severity: str) -> str:
    if severity not in SEVERITIES:
        raise EditError("风险等级只能是 low、medium 或 high")
    loc = _find(text, entry_id)
    key, value = _key(loc.node, "severity")
    if value is not None:
        if not isinstance(value, yaml.ScalarNode):
            raise EditError(f"{entry_id} 的 severity 格式无法识别")
        return text[:value.start_mark.index] + severity + text[value.end_mark.index:]
    id_key, _ = _key(loc.node, "id")
    lines = text.split("\n")
    at = id_key.start_mark.line
    lines.insert(at + 1, " " * id_key.start_mark.column + f"severity: {severity}")
    return "\n".join(lines)


def disable_entry(text: str, entry_id: str, header: str) -> str:
    loc = _find(text, entry_id)
    lines = text.split("\n")
    pad = " " * loc.dash_col
    block = [pad + DISABLED + line[loc.dash_col:] if line.strip() else pad + DISABLED.rstrip()
             for line in lines[loc.first:loc.last + 1]]
    return "\n".join(lines[:loc.first] + [pad + f"{DISABLED_HEADER} {_one_line(header)}"] + block +
                     lines[loc.last + 1:])


def enable_entry(text: str, entry_id: str) -> str:
    lines = text.split("\n")
    for first, last, _indent in _disabled_blocks(lines):
        raw = _disabled_entry(lines, first, last)
        if raw and str(raw.get("id")) == entry_id:
            start = first - 1 if first > 0 and lines[first - 1].strip().startswith(DISABLED_HEADER) else first
            return "\n".join(lines[:start] + _uncomment(lines[first:last + 1]) + lines[last + 1:])
    raise EditError(f"词表中没有已停用的条目 {entry_id}")


def add_entry(text: str, entry: dict) -> str:
    entry_id = str(entry.get("id", ""))
    if not ID_RE.match(entry_id):
        raise EditError("条目编号应为小写字母、数字和下划线，以点分隔，例如 efficacy.new_phrase")
    existing = {e.id for e in _all_ids(text)}
    if entry_id in existing:
        raise EditError(f"条目编号 {entry_id} 已存在（含已停用的条目）")
    if entry.get("type") not in ENTRY_TYPES:
        raise EditError("请选择宣称类型")
    seq, located = _locate(text)
    dash_col = located[0].dash_col if located else 2
    dumped = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, default_flow_style=None, width=4096)
    block = [" " * dash_col + line if line else line for line in dumped.rstrip("\n").split("\n")]
    lines = text.split("\n")
    if located:
        at = located[-1].last + 1
        return "\n".join(lines[:at] + block + lines[at:])
    # `entries: []` (or empty): replace the value with a block list
    head = text[:seq.start_mark.index].rstrip(" ")
    tail = text[seq.end_mark.index:]
    return head + "\n" + "\n".join(block) + ("\n" if not tail.startswith("\n") else "") + tail


def _all_ids(text: str) -> list[ListEntry]:
    _, located = _locate(text)
    out = [ListEntry(id=loc.id, type="", severity="", legal_basis="") for loc in located]
    lines = text.split("\n")
    for first, last, _ in _disabled_blocks(lines):
        raw = _disabled_entry(lines, first, last)
        if raw:
            out.append(ListEntry(id=str(raw["id"]), type="", severity="", legal_basis="", disabled=True))
    return out


def diff(name: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"keywords/{name}.yaml", tofile=f"keywords/{name}.yaml", n=2))


# -- validation through the nlp loader --------------------------------------------------

def copy_config(config_dir: Path, into: Path) -> Path:
    """What the lexicon loader reads, copied into `into` (a scratch config dir)."""
    config_dir = Path(config_dir)
    for src in watched_files(config_dir) + [config_dir / "keywords" / "_macros.yaml"]:
        if src.exists():
            dst = into / src.relative_to(config_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    (into / "keywords").mkdir(parents=True, exist_ok=True)
    return into


def load_candidate(config_dir: Path, name: str, text: str):
    """The nlp bundle the lists would make with `text` as keywords/NAME.yaml; EditError with the loader's
    file, line and reason when it refuses them."""
    with tempfile.TemporaryDirectory(prefix="shian-kw-") as tmp:
        base = copy_config(config_dir, Path(tmp))
        (base / "keywords" / f"{name}.yaml").write_text(text, encoding="utf-8")
        try:
            return load_bundle(base)
        except LexiconError as exc:
            raise EditError(f"词表校验未通过：{Path(exc.path).name} 第 {exc.line} 行：{exc.reason}") from None


def check_examples(bundle, entry_ids: set[str]) -> list[str]:
    """Failing `examples` of the given entries, run through the real detector (nlp's own runner)."""
    from nlp.cli import run_examples
    subset = replace(bundle, entries=[e for e in bundle.entries if e.id in entry_ids])
    return run_examples(subset)


def current_bundle(config_dir: Path):
    try:
        return load_bundle(Path(config_dir))
    except LexiconError as exc:
        raise EditError(f"当前词表无法加载：{Path(exc.path).name} 第 {exc.line} 行：{exc.reason}") from None
