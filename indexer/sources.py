"""Reading record extracts (format: docs/DOMAIN-NOTES.md) one line at a time, without losing a line.

An extract holds ~20 million ledger records keyed by many hands over decades. Two duties follow:

* **Nothing is dropped silently.** Every non-blank data line comes out of ``read_extract`` as
  exactly one ``Record`` or one ``Quarantined`` (with a stable reason code), so a run can prove
  ``read == records + quarantined`` (``ReadSummary``). A broken line never stops the run: bytes
  are decoded line by line, so one bad byte sequence costs one line, not the file.
* **Memory does not grow with the file**, except for the set of record ids already seen, which
  duplicate detection needs. That set is kept compact by ``SeenRecordIds`` (~11-13 bytes per
  id instead of ~75-100 for a Python ``set``; numbers in its docstring).

Values are kept *as keyed* (stripped of surrounding whitespace only): width, variant kanji and
kana folding belong to the analyzers at index time, and the ledger's own spelling must stay
available to staff. Only what would make a record unindexable is rejected.

Line numbers are physical, 1-based line numbers of the file (the CSV header and blank lines
included), so an operator can find a quarantined line with ``sed -n '<n>p'``. Blank lines are
not records: they are skipped and not counted in ``ReadSummary.read``.

Quarantine reasons are codes and field names only, never values: the quarantine file and the
run summary end up in logs and tickets, and names and birth dates are personal data.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import json
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Literal, Self, cast, get_args

import orjson

from analyzers.dates import BirthDate, DateFormatError, parse_ledger_date
from analyzers.kana import is_normalized_kana, normalize_kana

__all__ = [
    "MAX_LINE_BYTES",
    "ExtractEncoding",
    "ExtractFormat",
    "ExtractFormatError",
    "Gender",
    "Op",
    "PensionType",
    "QuarantineWriter",
    "Quarantined",
    "ReadSummary",
    "Record",
    "SeenRecordIds",
    "count_records",
    "infer_format",
    "read_extract",
]

ExtractFormat = Literal["jsonl", "csv"]
ExtractEncoding = Literal["utf-8", "cp932"]
Gender = Literal["M", "F"]
PensionType = Literal["kosei", "kokumin", "senin"]
Op = Literal["upsert", "delete"]

# A real record line is well under 4 KiB even with every field at its limit in \uXXXX escapes.
# The cap keeps one runaway line (a binary file, a missing newline) from being held in memory.
MAX_LINE_BYTES: Final = 64 * 1024

# Lengths in characters after stripping; beyond them a value is a keying or export accident.
_FIELD_LIMITS: Final[dict[str, int]] = {
    "record_id": 64,
    "name_kana": 64,
    "name_kanji": 64,
    "employer_name": 200,
    "address": 200,
}
_REQUIRED_COLUMNS: Final = ("record_id", "name_kana", "birth_date", "gender")
_REQUIRED_DELTA_COLUMNS: Final = ("record_id", "op")

_SUFFIX_FORMATS: Final[dict[str, ExtractFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".txt": "csv",
}
# Keys are matched after NFKC and upper-casing, so full-width "１" and "ｍ" work as keyed.
_GENDERS: Final[dict[str, Gender]] = {"1": "M", "2": "F", "M": "M", "F": "F"}
_PENSION_TYPES: Final[dict[str, PensionType]] = {name: name for name in get_args(PensionType)}
_OPS: Final[dict[str, Op]] = {name: name for name in get_args(Op)}

_UTF8_BOM: Final = codecs.BOM_UTF8
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class ExtractFormatError(ValueError):
    """The file as a whole cannot be read as an extract (not a single line's problem).

    Raised instead of quarantining every line when the cause is evidently the file or the
    command (no CSV header, wrong encoding requested), so the operator fixes the command in
    seconds rather than reading 20 million quarantine entries. Messages never quote file content.
    """


@dataclass(frozen=True, slots=True)
class Record:
    """One indexable line of an extract, values as keyed (stripped).

    ``op == "delete"`` (delta files only) carries just ``record_id`` and ``line_number``; every
    other field is then None. For ``op == "upsert"`` the required fields ``name_kana``,
    ``birth_date``, ``birth_date_raw`` and ``gender`` are never None (checked on construction).
    ``birth_date`` may be an impossible date (``birth_date.valid`` False): a keyed typo still
    belongs to somebody, so the record stays findable by name.
    """

    record_id: str
    name_kana: str | None
    name_kanji: str | None
    birth_date: BirthDate | None
    birth_date_raw: str | None
    gender: Gender | None
    pension_type: PensionType | None
    employer_name: str | None
    address: str | None
    line_number: int
    op: Op = "upsert"
    name_kana_normalized: str | None = field(default=None, compare=False, repr=False)
    """``normalize_kana(name_kana)``, computed to validate the line and kept so that building
    the document does not normalise the name again; None when the record was made elsewhere."""

    @classmethod
    def deletion(cls, record_id: str, line_number: int) -> Record:
        """A delta line that removes a record: only its id matters."""
        return cls(record_id, None, None, None, None, None, None, None, None, line_number, "delete")

    def __post_init__(self) -> None:
        if self.op == "upsert" and None in (
            self.name_kana,
            self.birth_date,
            self.birth_date_raw,
            self.gender,
        ):
            raise ValueError("an upsert record needs name_kana, birth_date and gender")


@dataclass(frozen=True)
class Quarantined:
    """A data line that cannot be indexed, and why.

    ``reason`` is one of: ``unparseable_line``, ``missing_field:<field>``, ``bad_gender``,
    ``bad_birth_date``, ``bad_name_kana``, ``duplicate_record_id``, ``too_long:<field>``
    (``too_long:line`` for a line over ``MAX_LINE_BYTES``), ``bad_op``, ``bad_pension_type``,
    ``bad_encoding`` (undecodable bytes, or a lone surrogate escape in JSON) and
    ``bad_type:<field>`` (a JSON value that is neither a string nor, where a code is allowed,
    an integer). ``record_id`` is set when the line got far enough to have a valid one.
    """

    line_number: int
    reason: str
    record_id: str | None = None


class _Reject(Exception):
    """Internal: why the line being parsed is quarantined (control flow, never escapes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Duplicate detection


class SeenRecordIds:
    """Set of record ids seen so far, exact, at ~8 bytes per slot instead of ~75-100 per id.

    WHY: a Python ``set`` of 20M short ``str`` ids costs about 100 bytes per id (str object
    ~60 B + ~30-40 B of hash table), ~2 GB; a set of 64-bit digests as ``int`` still ~70 B per
    id (32 B int object + table). Here every id is one 64-bit slot of an open-addressing table
    in an ``array('Q')``: 28 bits of the id's hash as a tag, and in the other 36 bits the byte
    offset (+1) of the line where the id was first seen. The id itself is not stored: when the
    tag matches, ``id_at(offset)`` re-reads that line and compares the ids exactly, so a hash
    collision can never turn a distinct record into a ``duplicate_record_id``.

    Re-reads happen for real duplicates and for tag collisions inside a probe chain: each
    occupied slot probed matches the tag of another id with probability 2⁻²⁸; measured ~1.2
    occupied slots probed per insert (1M ids, load 0.7), so a 20M-line run expects ~0.1 such
    false matches. The cost is one random read per duplicate line.

    The table is sized once from ``expected`` (``read_extract`` counts the file's newlines
    first, ~1 s per GB) for a load factor of at most 0.7, i.e. ≥ 11.4 bytes per slot used.
    Measured (tests/indexer/test_sources.py::test_seen_ids_bytes_per_id) with tracemalloc:
    11.4 bytes per id when every line is a record. If more ids arrive than expected (the file
    grew while being read) the table doubles, re-reading every stored line to re-hash: correct
    but slow, a safety valve only.

    Offsets must be < 2³⁶ - 1 (extracts up to 64 GiB). ``hash()`` is per process (salted),
    which is fine: the table never outlives the run.
    """

    _OFFSET_BITS: Final = 36
    _OFFSET_MASK: Final = (1 << 36) - 1
    _INDEX_MASK: Final = (1 << 36) - 1
    _HASH_MASK: Final = (1 << 64) - 1
    MAX_LOAD: Final = 0.7

    def __init__(self, expected: int, id_at: Callable[[int], str]) -> None:
        self._id_at = id_at
        self._capacity = max(8, int(expected / self.MAX_LOAD) + 1)
        self._slots = array("Q", [0]) * self._capacity
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the table (the only part that grows with the number of ids)."""
        return self._slots.itemsize * len(self._slots)

    def add(self, record_id: str, offset: int) -> bool:
        """Remember ``record_id`` as first seen on the line at byte ``offset``.

        Returns False, and remembers nothing, when the exact id was added before.
        """
        if not 0 <= offset < self._OFFSET_MASK:
            raise ValueError("line offset beyond what SeenRecordIds can store (64 GiB)")
        if self._count + 1 > self._capacity * self.MAX_LOAD:
            self._grow()
        hashed = hash(record_id) & self._HASH_MASK
        tag = hashed >> self._OFFSET_BITS
        slots, capacity = self._slots, self._capacity
        index = (hashed & self._INDEX_MASK) % capacity
        while (slot := slots[index]) != 0:
            if slot >> self._OFFSET_BITS == tag and (
                self._id_at((slot & self._OFFSET_MASK) - 1) == record_id
            ):
                return False
            index = index + 1 if index + 1 < capacity else 0
        slots[index] = (tag << self._OFFSET_BITS) | (offset + 1)
        self._count += 1
        return True

    def _grow(self) -> None:
        old = self._slots
        self._capacity *= 2
        self._slots = array("Q", [0]) * self._capacity
        self._count = 0
        for slot in old:
            if slot != 0:
                offset = (slot & self._OFFSET_MASK) - 1
                self.add(self._id_at(offset), offset)


# --------------------------------------------------------------------------------------------
# Lines and rows


def _physical_lines(stream: IO[bytes]) -> Iterator[tuple[int, int, bytes | None]]:
    """(line number, byte offset, raw bytes or None when over ``MAX_LINE_BYTES``).

    Splitting bytes on ``\\n`` before decoding is safe for both encodings: in UTF-8 and in
    CP932 the byte 0x0A only ever means a newline (CP932 trail bytes start at 0x40).
    """
    line_number = 0
    offset = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        line_number += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while rest := stream.readline(MAX_LINE_BYTES):
                offset += len(rest)
                if rest.endswith(b"\n"):
                    break
            yield line_number, start, None
        else:
            yield line_number, start, raw


def _count_lines(path: Path) -> int:
    """Newlines in the file (+1 for an unterminated last line): an upper bound on records."""
    count = 0
    last = b"\n"
    with _open_bytes(path) as stream:
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


class _RowParser:
    """Turns one decoded line into a row (field name → value); knows the CSV header."""

    def __init__(self, extract_format: ExtractFormat, delta: bool) -> None:
        self.format = extract_format
        self.delta = delta
        self.header: tuple[str, ...] | None = None

    @property
    def wants_header(self) -> bool:
        return self.format == "csv" and self.header is None

    def read_header(self, text: str) -> None:
        try:
            cells = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            raise ExtractFormatError("the CSV header row cannot be parsed") from None
        header = tuple(cell.strip().lower() for cell in cells)
        if len(set(header)) != len(header):
            raise ExtractFormatError("the CSV header row names a column twice")
        required = _REQUIRED_DELTA_COLUMNS if self.delta else _REQUIRED_COLUMNS
        if missing := [name for name in required if name not in header]:
            raise ExtractFormatError(
                "the CSV header row lacks required column(s) "
                + ", ".join(missing)
                + " (the first non-blank line must be the header)"
            )
        self.header = header

    def row(self, text: str) -> dict[str, object]:
        if self.format == "jsonl":
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                raise _Reject("unparseable_line") from None
            if not isinstance(value, dict):
                raise _Reject("unparseable_line")
            return value
        assert self.header is not None
        try:
            cells = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            raise _Reject("unparseable_line") from None
        if len(cells) != len(self.header):
            raise _Reject("unparseable_line")
        return dict(zip(self.header, cells, strict=True))


def _fast_json_row(raw: bytes) -> dict[str, object] | None:
    """The row of a UTF-8 JSON line via orjson (about 4x faster than decode + json.loads);
    None when the line needs the standard path, which then decides what the line is.

    orjson rejects what ``json.loads`` would turn into a quarantine reason of its own (bytes
    that are not UTF-8, lone surrogate escapes, NaN) and reads every other line the same way,
    except integers beyond 64 bits, which it returns as floats: rows holding a float go the
    standard way too (tests/indexer/test_documents.py compares both paths).
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or float in map(type, value.values()):
        return None
    return value


def _decode(raw: bytes, encoding: ExtractEncoding, at_start: bool) -> str | None:
    """The line's text without its line ending; None if the bytes are not in ``encoding``."""
    if at_start and raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    try:
        return raw.rstrip(b"\r\n").decode(encoding)
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------------------------
# Fields


def _text(row: dict[str, object], name: str, *, required: bool, code: bool = False) -> str | None:
    """A stripped field value; None when absent or empty. ``code`` also accepts JSON integers."""
    value = row.get(name)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value.strip()
        # json.loads accepts "\ud800"; such a string cannot be sent to OpenSearch as UTF-8.
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject("bad_encoding") from None
    elif code and isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise _Reject(f"bad_type:{name}")
    if not text:
        if required:
            raise _Reject(f"missing_field:{name}")
        return None
    if len(text) > _FIELD_LIMITS.get(name, len(text)):
        raise _Reject(f"too_long:{name}")
    return text


def _required(row: dict[str, object], name: str, *, code: bool = False) -> str:
    text = _text(row, name, required=True, code=code)
    assert text is not None
    return text


def _op(row: dict[str, object], delta: bool) -> Op:
    """Delta files must say what to do; full extracts may carry ``op`` only as ``upsert``.

    A full extract is a complete replacement, so a ``delete`` there is a mix-up of files; it is
    quarantined (``bad_op``) rather than silently indexed or ignored.
    """
    text = _text(row, "op", required=delta)
    op = _OPS.get("upsert" if text is None else text.lower())
    if op is None or (not delta and op != "upsert"):
        raise _Reject("bad_op")
    return op


def _gender(row: dict[str, object]) -> Gender:
    text = _required(row, "gender", code=True)
    gender = _GENDERS.get(text) or _GENDERS.get(unicodedata.normalize("NFKC", text).upper())
    if gender is None:
        raise _Reject("bad_gender")
    return gender


def _pension_type(row: dict[str, object]) -> PensionType | None:
    text = _text(row, "pension_type", required=False)
    if text is None:
        return None
    pension_type = _PENSION_TYPES.get(text) or _PENSION_TYPES.get(
        unicodedata.normalize("NFKC", text).lower()
    )
    if pension_type is None:
        raise _Reject("bad_pension_type")
    return pension_type


# Birth dates repeat across an extract (~90,000 distinct keyed values in 1M records), and a
# BirthDate is immutable, so parsed dates are shared. Failures are not cached (they raise).
_parse_ledger_date: Final = functools.lru_cache(maxsize=1 << 16)(parse_ledger_date)


def _record(row: dict[str, object], line_number: int, delta: bool) -> Record | Quarantined:
    """Validate one row; the first failing check names the reason (fields in a fixed order)."""
    record_id: str | None = None
    try:
        record_id = _required(row, "record_id", code=True)
        op = _op(row, delta)
        if op == "delete":
            return Record.deletion(record_id, line_number)
        name_kana = _required(row, "name_kana")
        # Normalised first (width, hiragana, whitespace runs to one space), so ﾔﾏﾀﾞ ﾊﾅｺ,
        # ヤマダ　ハナコ and ヤマダハナコ pass; kanji, latin and digits do not.
        normalized_kana = normalize_kana(name_kana)
        if not is_normalized_kana(normalized_kana):
            raise _Reject("bad_name_kana")
        name_kanji = _text(row, "name_kanji", required=False)
        birth_date_raw = _required(row, "birth_date")
        try:
            birth_date = _parse_ledger_date(birth_date_raw)
        except DateFormatError:
            raise _Reject("bad_birth_date") from None
        return Record(
            record_id=record_id,
            name_kana=name_kana,
            name_kanji=name_kanji,
            birth_date=birth_date,
            birth_date_raw=birth_date_raw,
            gender=_gender(row),
            pension_type=_pension_type(row),
            employer_name=_text(row, "employer_name", required=False),
            address=_text(row, "address", required=False),
            line_number=line_number,
            name_kana_normalized=normalized_kana,
        )
    except _Reject as rejection:
        return Quarantined(line_number, rejection.reason, record_id)


# --------------------------------------------------------------------------------------------
# Reading


def _open_bytes(path: Path) -> IO[bytes]:
    """The extract's bytes, gunzipped when its name ends in ``.gz`` (exports travel
    compressed; decompressing as we read keeps a 20-million-line file off the disk twice)."""
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def infer_format(path: Path) -> ExtractFormat:
    """``.jsonl``/``.ndjson``/``.json`` → jsonl (one object per line), ``.csv``/``.txt`` → csv;
    a ``.gz`` after either is read through gzip."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    try:
        return _SUFFIX_FORMATS[suffix]
    except KeyError:
        raise ValueError(
            "cannot tell the extract format from the file name; pass format='jsonl' or 'csv' "
            "(known suffixes: " + ", ".join(_SUFFIX_FORMATS) + ")"
        ) from None


def _canonical_encoding(encoding: str) -> ExtractEncoding:
    """``utf-8`` or ``cp932``, accepting their aliases (utf8, ms932, mskanji...).

    ``shift_jis`` is refused on purpose: Python's codec of that name lacks the vendor
    extensions (①, ㈱, 髙) that host-system exports use; those files are CP932.
    """
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8"
    if name == "cp932":
        return "cp932"
    raise ValueError(
        "encoding must be 'utf-8' or 'cp932' (Shift_JIS exports with vendor extensions are cp932)"
    )


def read_extract(
    path: Path,
    format: ExtractFormat | None = None,  # named like the CLI flag --format
    encoding: ExtractEncoding = "utf-8",
    delta: bool = False,
) -> Iterator[Record | Quarantined]:
    """Stream an extract: one ``Record`` or ``Quarantined`` per non-blank data line, in order.

    Arguments are checked now; the file is opened on first ``next()``. Duplicate record ids:
    the first *valid* line with an id wins and later valid lines with the same id are
    quarantined as ``duplicate_record_id`` (a line quarantined for another reason does not
    claim its id). In a delta file this means at most one op per record id.

    CSV columns and JSON keys beyond the contract's fields (and ``op``) are ignored, so host
    exports with extra columns load; CSV header names are matched trimmed and case-insensitively.
    A quoted CSV field cannot span lines (each fragment is quarantined as ``unparseable_line``).

    Raises (on iteration) ``ExtractFormatError`` for a file-level problem: a CSV without a
    usable header, a UTF-16 file, a UTF-8 byte-order mark with ``encoding='cp932'``.
    """
    extract_format = format if format is not None else infer_format(path)
    if extract_format not in ("jsonl", "csv"):
        raise ValueError("format must be 'jsonl' or 'csv'")
    codec = _canonical_encoding(encoding)
    if not path.is_file():
        raise FileNotFoundError(f"no extract file at {path}")
    return _read(path, extract_format, codec, delta)


def _read(
    path: Path, extract_format: ExtractFormat, encoding: ExtractEncoding, delta: bool
) -> Iterator[Record | Quarantined]:
    parser = _RowParser(extract_format, delta)
    with ExitStack() as stack:
        stream = stack.enter_context(_open_bytes(path))
        lookup: IO[bytes] | None = None

        def record_id_at(offset: int) -> str:
            """The record id on the line at ``offset``, a line that earlier became a Record."""
            nonlocal lookup
            if lookup is None:
                lookup = stack.enter_context(_open_bytes(path))
            lookup.seek(offset)
            text = _decode(lookup.readline(MAX_LINE_BYTES + 1), encoding, offset == 0)
            try:
                if text is None:
                    raise _Reject("bad_encoding")
                return _required(parser.row(text), "record_id", code=True)
            except _Reject:
                raise RuntimeError("the extract changed while it was being read") from None

        seen = SeenRecordIds(_count_lines(path), record_id_at)
        # The first line may start with a byte-order mark, which only the standard path strips.
        fast_json = extract_format == "jsonl" and encoding == "utf-8"
        for line_number, offset, raw in _physical_lines(stream):
            if offset == 0:
                _check_start(raw or b"", encoding)
            if raw is None:
                yield Quarantined(line_number, "too_long:line")
                continue
            row = _fast_json_row(raw) if fast_json and offset else None
            if row is not None:
                outcome = _record(row, line_number, delta)
            else:
                if not raw.strip():
                    continue
                text = _decode(raw, encoding, offset == 0)
                if text is None:
                    if parser.wants_header:
                        raise ExtractFormatError(f"the CSV header row is not valid {encoding}")
                    yield Quarantined(line_number, "bad_encoding")
                    continue
                if not text.strip():  # e.g. only ideographic spaces
                    continue
                if parser.wants_header:
                    parser.read_header(text)
                    continue
                try:
                    outcome = _record(parser.row(text), line_number, delta)
                except _Reject as rejection:
                    outcome = Quarantined(line_number, rejection.reason)
            if isinstance(outcome, Record) and not seen.add(outcome.record_id, offset):
                outcome = Quarantined(line_number, "duplicate_record_id", outcome.record_id)
            yield outcome


def _check_start(head: bytes, encoding: ExtractEncoding) -> None:
    """Refuse files whose first bytes show that every line would be misread."""
    if head.startswith(_UTF16_BOMS):
        raise ExtractFormatError("the extract is UTF-16; export it as UTF-8 or CP932")
    if encoding == "cp932" and head.startswith(_UTF8_BOM):
        raise ExtractFormatError("the extract starts with a UTF-8 byte-order mark; use utf-8")


# --------------------------------------------------------------------------------------------
# Accounting and quarantine file


@dataclass
class ReadSummary:
    """Counts of one read. ``read == records + quarantined`` holds after every item.

    ``read`` counts data lines (non-blank, not the CSV header); ``deletes`` is the part of
    ``records`` with ``op == "delete"``; ``by_reason`` splits ``quarantined`` by reason code.
    """

    read: int = 0
    records: int = 0
    quarantined: int = 0
    deletes: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, item: Record | Quarantined) -> None:
        self.read += 1
        if isinstance(item, Record):
            self.records += 1
            self.deletes += item.op == "delete"
        else:
            self.quarantined += 1
            self.by_reason[item.reason] = self.by_reason.get(item.reason, 0) + 1

    @property
    def balanced(self) -> bool:
        by_reason_total = sum(self.by_reason.values())
        return self.read == self.records + self.quarantined and self.quarantined == by_reason_total


class QuarantineWriter:
    """Writes quarantined lines as JSONL: ``{"line": n, "reason": code, "record_id": id|null}``.

    Only line number, code and record id are written — never the line itself, which holds
    personal data; staff look the line up in the extract by its number.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0
        self._stream: IO[str] | None = path.open("w", encoding="utf-8", newline="\n")

    def write(self, item: Quarantined) -> None:
        if self._stream is None:
            raise ValueError("QuarantineWriter is closed")
        entry = {"line": item.line_number, "reason": item.reason, "record_id": item.record_id}
        self._stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.written += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def count_records(
    items: Iterable[Record | Quarantined],
    summary: ReadSummary,
    quarantine: QuarantineWriter | None = None,
) -> Iterator[Record | Quarantined]:
    """Pass items through, counting each in ``summary`` (and writing quarantined ones).

    Counting happens before the item is handed on, so the summary is right even if the
    consumer stops early or fails on that item.
    """
    for item in items:
        summary.add(item)
        if quarantine is not None and isinstance(item, Quarantined):
            quarantine.write(item)
        yield item
