"""Opening a legacy register (.xlsx) within limits, before a single row is read.

The file's size, and the unpacked size of each of its parts (from the zip's directory: unpacking
never yields more than declared), are checked before openpyxl opens it; openpyxl parses the XML
through defusedxml (no DTDs, no entities). Whatever a crafted or broken file makes the readers
raise becomes an ImportProblem with a message for people.
"""

import io
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from openpyxl import load_workbook

from villa.i18n import lazy_gettext as _l

MB = 1024 * 1024
# The worksheets openpyxl reads row by row; every other part (the shared strings above all) it
# reads whole into memory.
WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)


@dataclass(frozen=True)
class ImportLimits:
    """How much one import reads: the file, its parts once unpacked (checked from the zip's
    directory before anything is unpacked), and its rows."""

    file_bytes: int
    unpacked_bytes: int  # all parts together
    part_bytes: int  # any part but a worksheet
    rows: int
    on_page: bool  # the admin page, which sends larger files to `villa import`


WEB_LIMITS = ImportLimits(10 * MB, 64 * MB, 16 * MB, 20_000, on_page=True)
SERVER_LIMITS = ImportLimits(100 * MB, 1024 * MB, 128 * MB, 200_000, on_page=False)


class ImportProblem(ValueError):
    """The file as a whole cannot be imported (not .xlsx, no header row, too many rows…)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def check_file_size(size: int, limits: ImportLimits):
    """Refuse a file too large for these limits before it is read. Raises ImportProblem."""
    if size > limits.file_bytes:
        raise ImportProblem(too_large(limits))


def too_large(limits: ImportLimits):
    """What a file over the size limit is told."""
    if limits.on_page:
        return _l(
            "This file is larger than %(limit)d MB: import it on the server with `villa import`.",
            limit=limits.file_bytes // MB,
        )
    return _l("This file is larger than %(limit)d MB.", limit=limits.file_bytes // MB)


def too_many_rows(limits: ImportLimits):
    if limits.on_page:
        return _l(
            "This file has more than %(limit)d rows: import it on the server with `villa import`.",
            limit=limits.rows,
        )
    return _l("This file has more than %(limit)d rows.", limit=limits.rows)


@contextmanager
def open_workbook(content: bytes, limits: ImportLimits):
    """The workbook, read-only, once the file is known to fit the limits. Raises ImportProblem."""
    check_file_size(len(content), limits)
    _check_parts(content, limits)
    with _reading():
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        yield book
    finally:
        book.close()


def _check_parts(content: bytes, limits: ImportLimits):
    """Refuse a file that unpacks to more than the limits, by the sizes its zip directory declares
    (unpacking never yields more than declared: a part that tries fails its check)."""
    with _reading(), zipfile.ZipFile(io.BytesIO(content)) as archive:
        parts = archive.infolist()
    if sum(part.file_size for part in parts) > limits.unpacked_bytes:
        raise ImportProblem(
            _l(
                "Unpacked, this file holds more than %(limit)d MB: more than one import reads.",
                limit=limits.unpacked_bytes // MB,
            )
        )
    if any(
        part.file_size > limits.part_bytes and not WORKSHEET_PART.fullmatch(part.filename) for part in parts
    ):
        raise ImportProblem(
            _l(
                "The text of this file adds up to more than %(limit)d MB: more than one import reads.",
                limit=limits.part_bytes // MB,
            )
        )


@contextmanager
def _reading():
    """What reading a crafted or broken file raises, as a clear refusal."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, IndexError, OSError, ValueError) as exc:
        # openpyxl reports a part it could not parse as a ValueError caused by the parser's error.
        if _caused_by(exc, DefusedXmlException):  # a DTD or entities: XXE, billion laughs
            raise ImportProblem(
                _l("This file holds XML that no Excel file needs (a DTD or entities): it was not read.")
            ) from exc
        if _caused_by(exc, ParseError):
            raise ImportProblem(_l("This file is damaged: part of its XML cannot be read.")) from exc
        raise ImportProblem(_l("This is not an Excel .xlsx file.")) from exc
    except ParseError as exc:
        raise ImportProblem(_l("This file is damaged: part of its XML cannot be read.")) from exc


def _caused_by(exc: BaseException | None, kind: type) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def sheet_rows(sheet):
    """(row number, values) of each row of the sheet, read one by one."""
    with _reading():
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
