"""`shian keywords`: validate the keyword lists and run their examples."""
from __future__ import annotations

import click


@click.group()
def keywords() -> None:
    """Keyword lists (config/keywords/*.yaml)."""


def _bundle():
    from nlp.lexicon import LexiconError, load_bundle
    try:
        return load_bundle()
    except LexiconError as exc:
        raise click.ClickException(f"refused: {exc}") from None


@keywords.command("check")
def check() -> None:
    """Validate every list; print each file's version and entry count."""
    bundle = _bundle()
    counts: dict[str, int] = {}
    for e in bundle.entries:
        counts[e.version] = counts.get(e.version, 0) + 1
    for name, version in sorted(bundle.versions.items()):
        n = counts.get(version)
        click.echo(f"{name:24s} {version}" + (f"  ({n} entries)" if n else ""))
    click.echo(f"ok: {len(bundle.entries)} entries")


def run_examples(bundle) -> list[str]:
    """Failures of the per-entry examples, as readable lines (empty when all pass)."""
    from nlp import scan_text
    failures = []
    for e in bundle.entries:
        kind = e.kinds[0] if e.kinds else ("普通食品" if e.applies_to("普通食品") else "保健食品")
        for text, want in [(t, True) for t in e.examples_match] + [(t, False) for t in e.examples_no_match]:
            _, claims = scan_text(text, kind=kind, approved=None, bundle=bundle, only={e.id})
            got = any(c.entry.id == e.id for c in claims)
            if got != want:
                failures.append(f"{e.file}:{e.line}: {e.id}: {'should match' if want else 'should not match'}"
                                f" {text!r}")
    return failures


@keywords.command("test")
def test() -> None:
    """Run every entry's `examples` (match / no_match) through the real detector."""
    bundle = _bundle()
    failures = run_examples(bundle)
    total = sum(len(e.examples_match) + len(e.examples_no_match) for e in bundle.entries)
    for line in failures:
        click.echo(line)
    click.echo(f"{total - len(failures)}/{total} examples pass")
    if failures:
        raise SystemExit(1)
