"""Differential test: every value our tokenizer reads from the corpus equals what python-hl7 and
hl7apy read at the same position (DESIGN.md section 12).

Both oracles are fed the message with CR segment separators and no blank lines (python-hl7 reads
an LF-separated message as one segment; hl7apy wants CR). python-hl7 unescapes like we do, so it
is compared with ``Segment.get``; hl7apy never unescapes, so it is compared with the raw tree.
hl7apy drops Z-segments unless ``find_groups=False``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import hl7
import pytest
from hl7apy.parser import parse_message

from revbridge.formats.hl7v2 import Message, parse, split
from revbridge.formats.hl7v2.message import segment_lines

Position = tuple[int, int, int, int]  # field, repetition, component, sub-component


def corpus_messages(corpus: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted((corpus / "hl7v2").iterdir()):
        for envelope in split(path.read_bytes()):
            yield f"{path.name}:{envelope.locator}", envelope.payload


def _ids(corpus_dir: Path) -> list[tuple[str, bytes]]:
    return list(corpus_messages(corpus_dir))


@pytest.fixture(scope="module")
def messages(corpus: Path) -> list[tuple[str, bytes, Message, str]]:
    out = []
    for name, payload in corpus_messages(corpus):
        message, problems = parse(payload)
        assert message is not None, name
        assert problems == (), name
        oracle_text = "\r".join(segment_lines(payload.decode("utf-8")))
        out.append((name, payload, message, oracle_text))
    assert len(out) == 130  # 1 + 1 + 124 + 2 + 1 + 1 (SOURCES.md)
    return out


def leaves(message: Message) -> Iterator[tuple[str, int, Position, str]]:
    """Every non-empty raw leaf our tokenizer sees: (segment, occurrence, position, raw text)."""
    for seg in message.segments:
        for field in range(1, seg.field_count + 1):
            for r, rep in enumerate(seg.tree(field), start=1):
                for c, comp in enumerate(rep, start=1):
                    for s, sub in enumerate(comp, start=1):
                        if sub:
                            yield seg.name, seg.occurrence, (field, r, c, s), sub


def test_segments_match_python_hl7(messages: list[tuple[str, bytes, Message, str]]) -> None:
    for name, _payload, message, text in messages:
        theirs = hl7.parse(text)
        assert [str(seg[0][0]) for seg in theirs] == [seg.name for seg in message.segments], name


def test_every_value_matches_python_hl7(messages: list[tuple[str, bytes, Message, str]]) -> None:
    compared = 0
    for name, _payload, message, text in messages:
        theirs = hl7.parse(text)
        for seg_name, occurrence, (field, r, c, s), _raw in leaves(message):
            ours = message.all(seg_name)[occurrence - 1].get(field, c, s, r)
            expected = theirs.extract_field(seg_name, occurrence, field, r, c, s)
            assert ours == expected, f"{name} {seg_name}[{occurrence}]-{field}({r}).{c}.{s}"
            compared += 1
    assert compared > 10_000  # the Mirth file alone holds thousands of values


def _index(name: str) -> int:
    found = re.search(r"_(\d+)$", name)
    return int(found.group(1)) if found else 1


Leaves = dict[tuple[str, int, Position], str]
Beyond = dict[tuple[str, int], list[str]]


def hl7apy_leaves(text: str) -> tuple[Leaves, Beyond]:
    """hl7apy's non-empty leaves by position, and (by segment) the raw texts of fields past the
    end of the segment's definition in that version, which hl7apy keeps but leaves unnamed."""
    parsed = parse_message(text, find_groups=False)
    out: Leaves = {}
    beyond: Beyond = {}
    occurrences: dict[str, int] = {}
    for seg in parsed.children:
        occurrence = occurrences[seg.name] = occurrences.get(seg.name, 0) + 1
        repetitions: dict[int, int] = {}
        for field in seg.children:
            if field.name is None:
                beyond.setdefault((seg.name, occurrence), []).append(field.to_er7())
                continue
            number = _index(field.name)
            r = repetitions[number] = repetitions.get(number, 0) + 1
            if seg.name == "MSH" and number <= 2:
                # hl7apy escapes the delimiters when it writes MSH-1/MSH-2 back out; .value is raw.
                out[(seg.name, occurrence, (number, 1, 1, 1))] = field.value
                continue
            for comp in field.children:
                for sub in comp.children:
                    value = sub.to_er7()
                    if value:
                        out[(seg.name, occurrence, (number, r, _index(comp.name), _index(sub.name)))] = value
    return out, beyond


@pytest.mark.slow
def test_every_raw_value_matches_hl7apy(messages: list[tuple[str, bytes, Message, str]]) -> None:
    compared = 0
    for name, _payload, message, text in messages:
        ours = {(seg, occ, pos): raw for seg, occ, pos, raw in leaves(message)}
        theirs, beyond = hl7apy_leaves(text)
        for (seg_name, occurrence), extra in beyond.items():
            segment = message.all(seg_name)[occurrence - 1]
            last_named = max(pos[0] for (s, o, pos) in theirs if (s, o) == (seg_name, occurrence))
            past = [segment.raw_field(n) for n in range(last_named + 1, segment.field_count + 1)]
            assert [text for text in past if text] == extra, f"{name} {segment.where}"
            ours = {
                k: v
                for k, v in ours.items()
                if (k[0], k[1]) != (seg_name, occurrence) or k[2][0] <= last_named
            }
            compared += len(extra)
        assert ours == theirs, name
        compared += len(ours)
    assert compared > 10_000


def test_split_matches_python_hl7_split_file(corpus: Path) -> None:
    for path in sorted((corpus / "hl7v2").iterdir()):
        text = "\r".join(segment_lines(path.read_bytes().decode("utf-8")))
        theirs = hl7.split_file(text)
        ours = ["\r".join(segment_lines(e.payload.decode("utf-8"))) + "\r" for e in split(path.read_bytes())]
        assert ours == theirs, path.name
