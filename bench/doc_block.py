"""Write a generated block into a doc between its markers (appended under `heading` the first time)."""

from __future__ import annotations

from pathlib import Path


def write_block(doc: Path, begin: str, end: str, block: str, heading: str) -> None:
    text = doc.read_text()
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + "\n" + block + "\n" + end + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n{heading}\n{begin}\n{block}\n{end}\n"
    doc.write_text(text)
