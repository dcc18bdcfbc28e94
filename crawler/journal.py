"""The done journal of a run: keys of listings already stored, one per line.

Appended and flushed after each store write (a batch at a time), so a run killed with SIGKILL
and started again skips exactly what is already stored and fetches the rest.
"""
from __future__ import annotations

from pathlib import Path


class DoneJournal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keys: set[str] = set()
        if self.path.exists():
            # a torn last line (killed mid-write) is simply not a key yet
            text = self.path.read_text(encoding="utf-8")
            lines = text.split("\n")
            self.keys = {line for line in lines[:-1] if line}
            if lines[-1]:
                text = "\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else "")
                self.path.write_text(text, encoding="utf-8")
        self.resumed = bool(self.keys)
        self._fh = self.path.open("a", encoding="utf-8")

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: str) -> None:
        self.add_many([key])

    def add_many(self, keys) -> None:
        """Record keys whose store write has committed: one write and flush for a whole batch."""
        new = []
        for key in keys:
            if key and key not in self.keys:
                self.keys.add(key)
                new.append(key.replace("\n", " ") + "\n")
        if new:
            self._fh.write("".join(new))
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()
