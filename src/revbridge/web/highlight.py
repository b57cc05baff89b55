"""A raw message laid out for reading, with the place a locator names marked.

Problems and events point into their message with the standards' own notation (``FT1[2]-11.1``,
``ST[1]/2100[3]/CAS[1]-2``, ``Bundle.entry[4].resource.total``); this module finds that place
in the raw text so the lineage page can show it. HL7 v2 and X12 are shown one segment per line as
received; JSON (FHIR, portal, staged rows) is shown pretty-printed, numbers exactly as written.
Finding the place is best effort over text that may be malformed: a locator that cannot be found
leaves the text unmarked and says so, it never fails the page.

Pure: raw bytes and a locator in, lines out. The caller decides who may see them (phi.read) and
audits the view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from revbridge.formats.hl7v2.address import Address
from revbridge.formats.hl7v2.delimiters import Delimiters, read_delimiters

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    marked: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based, as shown
    chunks: tuple[Chunk, ...]

    @property
    def marked(self) -> bool:
        return any(c.marked for c in self.chunks)


@dataclass(frozen=True, slots=True)
class Layout:
    lines: tuple[Line, ...]
    found: bool  # the locator named a place in the text and it is marked
    note: str = ""  # why nothing is marked, or how the text was laid out


def _line(number: int, text: str, span: Span | None) -> Line:
    if span is None:
        return Line(number, (Chunk(text),))
    start, end = span
    parts = (Chunk(text[:start]), Chunk(text[start:end], True), Chunk(text[end:]))
    return Line(number, tuple(p for p in parts if p.text or p.marked))


def _plain(lines: Sequence[str], note: str) -> Layout:
    return Layout(tuple(_line(n, text, None) for n, text in enumerate(lines, start=1)), False, note)


def _marked(lines: Sequence[str], at: int, span: Span) -> Layout:
    return Layout(
        tuple(_line(n, text, span if n - 1 == at else None) for n, text in enumerate(lines, start=1)), True
    )


def _split_span(text: str, sep: str, index: int, within: Span) -> Span | None:
    """The span of the ``index``-th (0-based) ``sep``-separated part of ``text[within]``."""
    start, end = within
    pos = start
    for _ in range(index):
        found = text.find(sep, pos, end)
        if found < 0:
            return None
        pos = found + 1
    stop = text.find(sep, pos, end)
    return pos, end if stop < 0 else stop


# ---- HL7 v2 ---------------------------------------------------------------------------------


def _hl7(text: str, locator: str) -> Layout:
    segments = [s for s in re.split(r"\r\n|\r|\n", text) if s.strip()]
    try:
        where = Address.parse(locator)
    except ValueError:
        return _plain(segments, f"{locator or '(message)'} names the whole message")
    found = [n for n, s in enumerate(segments) if s[:3] == where.segment]
    if where.occurrence > len(found):
        return _plain(segments, f"{where.segment}[{where.occurrence}] is not in the message")
    at = found[where.occurrence - 1]
    segment = segments[at]
    if where.field is None:
        return _marked(segments, at, (0, len(segment)))
    header = next((s for s in segments if s[:3] in ("MSH", "FHS", "BHS")), "")
    delimiters = read_delimiters(header) if header else Delimiters()
    d = delimiters if isinstance(delimiters, Delimiters) else Delimiters()
    # MSH-1 is the field separator itself, so MSH fields sit one place to the left of others.
    index = where.field - 1 if where.segment in ("MSH", "FHS", "BHS") else where.field
    if where.segment in ("MSH", "FHS", "BHS") and where.field == 1:
        return _marked(segments, at, (3, 4))
    span = _split_span(segment, d.field, index, (0, len(segment)))
    if span is not None and (where.repetition > 1 or where.component is not None):
        span = _split_span(segment, d.repetition, where.repetition - 1, span)
    if span is not None and where.component is not None:
        span = _split_span(segment, d.component, where.component - 1, span)
    if span is not None and where.sub is not None:
        span = _split_span(segment, d.subcomponent, where.sub - 1, span)
    if span is None:
        return Layout(_marked(segments, at, (0, 3)).lines, True, f"{locator} is empty; its segment is marked")
    return _marked(segments, at, span)


# ---- X12 ------------------------------------------------------------------------------------

_STEP = re.compile(
    r"(?P<name>[A-Z0-9]{2,5})\[(?P<n>[1-9][0-9]*)\](?:-(?P<el>[1-9][0-9]*)(?:\.(?P<c>[1-9][0-9]*))?)?"
)

# Loops by the segment that opens them, with their nesting level: a loop ends where a loop of
# the same or an outer level opens (or the transaction set ends). Names and triggers follow the
# 005010X221A1 (835) and X222/X223 (837) implementation guides, as the readers number them.
_Trigger = Callable[[list[str]], bool]
_LOOPS: dict[str, dict[str, tuple[_Trigger, int]]] = {
    "835": {
        "1000A": (lambda el: el[0] == "N1" and el[1:2] == ["PR"], 1),
        "1000B": (lambda el: el[0] == "N1" and el[1:2] == ["PE"], 1),
        "2000": (lambda el: el[0] == "LX", 1),
        "2100": (lambda el: el[0] == "CLP", 2),
        "2110": (lambda el: el[0] == "SVC", 3),
        "summary": (lambda el: el[0] == "PLB", 1),
    },
    "837": {
        "2000A": (lambda el: el[0] == "HL" and el[3:4] == ["20"], 1),
        "2000B": (lambda el: el[0] == "HL" and el[3:4] == ["22"], 2),
        "2000C": (lambda el: el[0] == "HL" and el[3:4] == ["23"], 3),
        "2300": (lambda el: el[0] == "CLM", 4),
        "2400": (lambda el: el[0] == "LX", 5),
    },
}


def _x12_delimiters(text: str) -> tuple[str, str, str] | None:
    """(element, component, segment terminator) from the ISA, which is fixed-width by count of
    separators: ISA16 is one character and the terminator follows it."""
    start = text.find("ISA")
    if start < 0 or len(text) < start + 4:
        return None
    element = text[start + 3]
    pos = start
    for _ in range(16):
        pos = text.find(element, pos + 1)
        if pos < 0:
            return None
    if len(text) < pos + 3:
        return None
    return element, text[pos + 1], text[pos + 2]


def _x12(text: str, locator: str) -> Layout:
    delimiters = _x12_delimiters(text)
    if delimiters is None:
        return _plain(text.splitlines() or [text], "no ISA header: the text is shown as received")
    element, component, terminator = delimiters
    segments = [s.strip("\r\n") for s in text.split(terminator)]
    segments = [s + terminator for s in segments if s.strip()]
    fields = [s[: -len(terminator)].split(element) for s in segments]
    steps = [_STEP.fullmatch(part) for part in locator.split("/")] if locator else []
    matched = [s for s in steps if s is not None]
    if not steps or len(matched) < len(steps):
        return _plain(segments, f"{locator or '(message)'} names the whole message")
    at = _x12_find(fields, matched)
    if isinstance(at, str):
        return _plain(segments, at)
    last = matched[-1]
    segment = segments[at]
    whole = (0, len(segment) - len(terminator))
    if last["el"] is None:
        return _marked(segments, at, whole)
    span = _split_span(segment, element, int(last["el"]), whole)
    if span is not None and last["c"] is not None:
        span = _split_span(segment, component, int(last["c"]) - 1, span)
    if span is None:
        return Layout(_marked(segments, at, whole).lines, True, f"{locator} is empty; its segment is marked")
    return _marked(segments, at, span)


def _x12_find(fields: list[list[str]], steps: list[re.Match[str]]) -> int | str:
    """The index of the segment the locator's steps lead to, or a note naming the step that is not
    in the file. The first step is a segment counted over the file (``ST[2]``); after an ``ST``
    the search stays inside that transaction set, a loop step narrows it to that loop, ``SEG[n]``
    counts segments from the scope's first, and any other step is a segment inside the scope."""
    first = steps[0]
    hits = [i for i, el in enumerate(fields) if el[0] == first["name"]]
    if int(first["n"]) > len(hits):
        return f"{first.group(0)} is not in the file"
    at = hits[int(first["n"]) - 1]
    end = len(fields)
    if first["name"] == "ST":
        end = next((i + 1 for i in range(at, len(fields)) if fields[i][0] == "SE"), end)
    kind = fields[at][1][:3] if first["name"] == "ST" and len(fields[at]) > 1 else ""
    loops = _LOOPS.get(kind, {})
    in_loop = False
    for step in steps[1:]:
        name, n = step["name"], int(step["n"])
        if name in loops:
            scope = _x12_loop(fields, loops, name, n, (at, end))
            if scope is None:
                return f"{step.group(0)} is not in the file"
            (at, end), in_loop = scope, True
        elif name == "SEG":
            at = at + n - 1  # by position, the scope's first segment being 1
            if at >= end:
                return f"{step.group(0)} is not in the file"
        else:
            stop = _x12_next_loop(fields, loops, at, end) if in_loop else end
            hits = [i for i in range(at, stop) if fields[i][0] == name]
            if n > len(hits):
                return f"{step.group(0)} is not in the file"
            at = hits[n - 1]
    return at


def _x12_loop(
    fields: list[list[str]], loops: dict[str, tuple[_Trigger, int]], name: str, n: int, scope: Span
) -> Span | None:
    """The ``n``-th loop ``name`` inside ``scope`` as (its opening segment, where it ends): at the
    next loop of the same or an outer level, or the scope's end."""
    trigger, level = loops[name]
    at, end = scope
    hits = [i for i in range(at + 1, end) if trigger(fields[i])]
    if n > len(hits):
        return None
    start = hits[n - 1]
    ends = (i for i in range(start + 1, end) if any(t(fields[i]) and lv <= level for t, lv in loops.values()))
    return start, next(ends, end)


def _x12_next_loop(fields: list[list[str]], loops: dict[str, tuple[_Trigger, int]], at: int, end: int) -> int:
    """Where the next loop of any level opens after ``at`` (a segment step stays in its loop)."""
    return next((i for i in range(at + 1, end) if any(t(fields[i]) for t, _lv in loops.values())), end)


# ---- JSON (FHIR, portal) ----------------------------------------------------------------------

_JSON_STEP = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)?(?P<index>(?:\[[0-9]+\])*)")


def _json_path(locator: str, document: Any) -> list[str | int] | None:
    """``Bundle.entry[4].resource.total`` / ``$.items[2].amount`` -> ["entry", 4, "resource", ...]."""
    parts = locator.split(".")
    if not parts or not locator:
        return None
    head = parts[0]
    if head.startswith("$"):
        parts[0] = head[1:]
    elif isinstance(document, dict) and head.split("[")[0] == document.get("resourceType"):
        parts[0] = head[len(document["resourceType"]) :]
    path: list[str | int] = []
    for part in parts:
        found = _JSON_STEP.fullmatch(part)
        if found is None:
            return None
        if found["name"]:
            path.append(found["name"])
        path.extend(int(i) for i in re.findall(r"\[([0-9]+)\]", found["index"]))
    return path


def _json(text: str, locator: str) -> Layout:
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):
        return _plain(text.splitlines() or [text], "not valid JSON: shown as received")
    target = _json_path(locator, document)
    out: list[tuple[str, bool]] = []
    _emit(document, [], target, 0, "", out, False)
    if target is None or not any(m for _t, m in out):
        note = (
            f"{locator} is not in the document"
            if target
            else f"{locator or '(message)'} names the whole message"
        )
        return _plain([t for t, _m in out], f"{note}; pretty-printed, numbers as written")
    rendered = tuple(
        _line(n, t, (len(t) - len(t.lstrip()), len(t)) if m else None)
        for n, (t, m) in enumerate(out, start=1)
    )
    return Layout(rendered, True, "pretty-printed; numbers as written")


_STAGED = re.compile(r"[A-Za-z0-9_]+\[(?P<key>[^\]]*)\](?:\.(?P<field>[A-Za-z_]+))?")


def _staging_path(text: str, locator: str) -> str:
    """``billing_stage[42].amount`` (formats/staging) -> ``$.rows[n].fields.amount``, n being the
    row whose key is 42; ``.kind`` is the row's own; anything else is left as it is."""
    found = _STAGED.fullmatch(locator)
    try:
        rows = json.loads(text)["rows"]
        at = next(n for n, row in enumerate(rows) if found and str(row.get("key")) == found["key"])
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration, RecursionError):
        return locator
    assert found is not None  # no row matched otherwise
    field = found["field"]
    if not field:
        return f"$.rows[{at}]"
    return f"$.rows[{at}].kind" if field == "kind" else f"$.rows[{at}].fields.{field}"


def _scalar(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _emit(
    value: Any,
    path: list[str | int],
    target: list[str | int] | None,
    depth: int,
    prefix: str,
    out: list[tuple[str, bool]],
    inside: bool,
    comma: str = "",
) -> None:
    mark = inside or (target is not None and path == target)
    pad = "  " * depth
    if isinstance(value, dict) and value:
        out.append((f"{pad}{prefix}{{", mark))
        items = list(value.items())
        for n, (key, item) in enumerate(items):
            sep = "," if n < len(items) - 1 else ""
            _emit(
                item,
                [*path, key],
                target,
                depth + 1,
                f"{json.dumps(key, ensure_ascii=False)}: ",
                out,
                mark,
                sep,
            )
        out.append((f"{pad}}}{comma}", mark))
    elif isinstance(value, list) and value:
        out.append((f"{pad}{prefix}[", mark))
        for n, item in enumerate(value):
            sep = "," if n < len(value) - 1 else ""
            _emit(item, [*path, n], target, depth + 1, "", out, mark, sep)
        out.append((f"{pad}]{comma}", mark))
    else:
        shown = "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else _scalar(value)
        out.append((f"{pad}{prefix}{shown}{comma}", mark))


# ---- entry ------------------------------------------------------------------------------------


def layout(fmt: str, raw: bytes, locator: str) -> Layout:
    """The raw message of format ``fmt`` as lines, with ``locator`` marked when it can be found."""
    text = raw.decode("utf-8", errors="replace")
    match fmt:
        case "hl7v2":
            return _hl7(text, locator)
        case "x12":
            return _x12(text, locator)
        case "fhir" | "portal":
            return _json(text, locator)
        case "staging":
            return _json(text, _staging_path(text, locator))
        case _:
            return _plain(text.splitlines() or [text], f"no layout for format {fmt!r}: shown as received")
