"""Keyword lists: validation with file/line/reason, versions, reload without restart, the CLI."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp.lexicon import CONFIG_DIR_DEFAULT, Holder, LexiconError, load_bundle
from nlp import scan_text

GOOD = """defaults:
  type: disease_claim
  legal_basis: 食品安全法第七十一条
entries:
  - id: t.sugar
    phrases: [降血糖]
"""


@pytest.fixture
def config(tmp_path) -> Path:
    base = tmp_path / "config"
    base.mkdir()
    for name in ("claim_context.yaml", "normalisation.yaml", "health_functions.yaml"):
        shutil.copy(CONFIG_DIR_DEFAULT / name, base / name)
    (base / "keywords").mkdir()
    shutil.copy(CONFIG_DIR_DEFAULT / "keywords" / "_macros.yaml", base / "keywords" / "_macros.yaml")
    (base / "keywords" / "test.yaml").write_text(GOOD, encoding="utf-8")
    return base


@pytest.mark.parametrize("entry,reason", [
    ("  - id: t.bad\n    pattern: '(降|升)+糖'\n", "unbounded repetition"),
    ("  - id: t.bad\n    pattern: '(?:(?:降){0,5}){0,5}糖'\n", "nested repetition"),
    ("  - id: t.bad\n    pattern: '(a)\\1'\n", "refused by RE2"),
    ("  - id: t.bad\n    pattern: '(?=降)糖'\n", "refused by RE2"),
    ("  - id: t.bad\n    pattern: '(降)?'\n", "empty string"),
    ("  - id: t.bad\n    phrases: [降糖]\n    type: cure\n", "type 'cure'"),
    ("  - id: t.bad\n    phrases: [降糖]\n    severity: urgent\n", "severity"),
    ("  - id: t.bad\n    phrases: [降]\n", "shorter than two"),
    ("  - id: t.sugar\n    phrases: [降糖]\n", "duplicate id"),
    ("  - id: t.bad\n    pattern: '{NOPE}糖'\n", "unknown macro"),
    ("  - id: t.bad\n    phrases: [降糖]\n    colour: red\n", "unknown key"),
])
def test_bad_entry_is_refused_with_file_line_and_reason(config, entry, reason):
    path = config / "keywords" / "test.yaml"
    path.write_text(GOOD + entry, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_bundle(config)
    assert err.value.path == str(path)
    assert err.value.line == 7                      # the bad entry's line
    assert reason in err.value.reason
    assert f"test.yaml:7: " in str(err.value)


def test_version_is_the_content_hash_and_stamped_on_findings(config):
    bundle = load_bundle(config)
    version = bundle.versions["test.yaml"]
    _, claims = scan_text("喝了降血糖", bundle=bundle)
    assert claims[0].entry.version == version
    (config / "keywords" / "test.yaml").write_text(GOOD + "# edited\n", encoding="utf-8")
    assert load_bundle(config).versions["test.yaml"] != version


def test_changed_list_is_picked_up_and_a_bad_change_keeps_the_old_list(config):
    holder = Holder(config)
    bundle = holder.get()
    assert scan_text("可以壮阳", bundle=bundle)[1] == []
    path = config / "keywords" / "test.yaml"
    path.write_text(GOOD + "  - id: t.yang\n    phrases: [壮阳]\n    type: unapproved_function\n", encoding="utf-8")
    bundle = holder.force_check()
    assert [c.type for c in scan_text("可以壮阳", bundle=bundle)[1]] == ["unapproved_function"]
    path.write_text(GOOD + "  - id: t.broken\n    pattern: '.*'\n", encoding="utf-8")
    kept = holder.force_check()
    assert kept is bundle                          # nothing lost
    assert "t.broken" in str(holder.last_error)


def test_cli_check_and_test_on_the_shipped_lists():
    from nlp.cli import keywords
    runner = CliRunner()
    out = runner.invoke(keywords, ["check"])
    assert out.exit_code == 0, out.output
    assert "disease.yaml" in out.output and "@" in out.output
    out = runner.invoke(keywords, ["test"])
    assert out.exit_code == 0, out.output
    assert "examples pass" in out.output


def test_cli_test_reports_a_failing_example(config, monkeypatch):
    (config / "keywords" / "test.yaml").write_text(
        GOOD + "    examples:\n      no_match: [降血糖]\n", encoding="utf-8")
    from nlp import cli
    monkeypatch.setattr(cli, "_bundle", lambda: load_bundle(config))
    out = CliRunner().invoke(cli.keywords, ["test"])
    assert out.exit_code == 1
    assert "t.sugar: should not match '降血糖'" in out.output


def test_registry_function_names_in_old_and_new_wording(config):
    bundle = load_bundle(config)
    resolve = lambda s: bundle.functions.resolve(s, bundle.normalizer)
    assert resolve("免疫调节") == resolve("有助于增强免疫力") == 1
    assert resolve("调节血脂") == resolve("有助于维持血脂（胆固醇/甘油三酯）健康水平") == 19
    assert resolve("对胃黏膜损伤有辅助保护功能") == 18
    assert resolve("补充维生素D") == 25


@pytest.mark.parametrize("old,new,line_of", [
    ('  "yes":', "  yes:", "  yes:"),                    # YAML reads an unquoted yes as True
    ('  "no":', "  no:", "  no:"),
    ("negation_chars: [", "negation_chars: [12, ", "negation_chars:"),
])
def test_context_file_with_a_key_or_item_yaml_does_not_read_as_text_is_refused(config, old, new, line_of):
    path = config / "claim_context.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_bundle(config)
    assert err.value.path == str(path) and "quote it" in err.value.reason
    assert err.value.line == text.splitlines().index(next(x for x in text.splitlines() if x.startswith(line_of))) + 1


def test_an_emoji_standing_for_a_character_does_not_hide_a_claim(config):
    import yaml
    path = config / "normalisation.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["emoji_substitutions"] = {**(data.get("emoji_substitutions") or {}), "🍬": "糖"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (config / "keywords" / "test.yaml").write_text(GOOD.replace("[降血糖]", "[降血糖, 控糖]"), encoding="utf-8")
    bundle = load_bundle(config)
    source = "苦瓜茶，控🍬效果好"
    norm, claims = scan_text(source, bundle=bundle)
    assert [(c.type, source[slice(*norm.span(c.start, c.end))]) for c in claims] == [("disease_claim", "控🍬")]
    assert "emoji" in norm.evasions(claims[0].start, claims[0].end)
