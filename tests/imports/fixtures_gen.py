"""Synthetic import files, built in memory at test time: fake people only (example.com emails,
555-01xx phones). Nothing here is a real export; each builder mimics one documented quirk
(IMPORT_FORMATS.md) so a reader can be tested against it."""

import csv
import datetime
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

FIRST_NAMES = ("Jane", "Omar", "Zoë", "Liam", "Ana", "Kenji", "Fatima", "Noah", "Chloé", "Ravi")
LAST_NAMES = ("Doe", "Haddad", "Müller", "Okafor", "de la Cruz", "Tanaka", "Nguyen", "O'Brien")


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    phone: str


def people(count: int) -> list[Person]:
    result = []
    for i in range(count):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
        result.append(Person(first, last, f"client{i}@example.com", f"555-01{i % 100:02d}"))
    return result


# --- CSV -------------------------------------------------------------------------------------


def csv_bytes(
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    sep_hint: bool = False,
    line_ending: str = "\r\n",
) -> bytes:
    out = io.StringIO(newline="")
    if sep_hint:
        out.write(f"sep={delimiter}{line_ending}")
    csv.writer(out, delimiter=delimiter, lineterminator=line_ending).writerows(rows)
    data = out.getvalue().encode(encoding)
    return ("\ufeff".encode(encoding) if bom else b"") + data


def people_csv(count: int, **options: object) -> bytes:
    rows = [["First Name", "Last Name", "Email", "Mobile Phone"]]
    rows += [[p.first, p.last, p.email, p.phone] for p in people(count)]
    return csv_bytes(rows, **options)  # type: ignore[arg-type]


SIMPLEPRACTICE_DETAILS_HEADER = [
    "Client", "Client type", "Date added", "Primary clinician", "Last appointment",
    "Next appointment", "Address", "City", "State", "ZIP", "Phone number", "Email",
    "Contact name", "Contact phone", "Contact email", "Primary insurance", "Insurance ID",
    "Status", "Phone number",
]
INSURANCE_MARKERS = ("Acme Health PPO", "W123456789")


def simplepractice_details_csv() -> bytes:
    """The Client Details report: one `Client` name column, couples, a minor, a repeated header."""

    def row(client: str, phone: str, email: str, contact: tuple[str, str, str] = ("", "", ""),
            second_phone: str = "") -> list[str]:
        return [client, "Adult", "01/02/2024", "Dr Morgan Lee", "04/01/2024", "", "1 Main St",
                "Springfield", "IL", "62701", phone, email, *contact, INSURANCE_MARKERS[0],
                INSURANCE_MARKERS[1], "Active", second_phone]

    rows = [
        SIMPLEPRACTICE_DETAILS_HEADER,
        row("Jane Q. Doe", "555-0101", "jane.doe@example.com"),
        row("Alex & Sam Rivera", "555-0102", "rivera@example.com"),
        row("Timmy Tester", "", "", ("Pat Tester", "555-0103", "pat.tester@example.com")),
        row("Zoë Núñez-García", "", "zoe@example.com", second_phone="555-0104"),
        row("John Smith Jr.", "555-0105", "john.smith@example.com"),
        row("Ana de la Cruz", "555-0106", "ana@example.com"),
    ]
    return csv_bytes(rows, bom=True)


JANE_HEADER = [
    "Patient Number", "First Name", "Middle Name", "Last Name", "Preferred Name", "Email",
    "Home Phone", "Mobile Phone", "Work Phone", "Street Address", "City", "Province", "Postal",
    "Country", "Birth Date", "Personal Health Number", "Guardian Name", "Medical Alert",
    "Active/Inactive", "Deceased At", "Discharged At",
]


def jane_rows() -> list[list[str]]:
    def row(number: str, first: str, last: str, email: str, home: str, mobile: str, work: str,
            deceased: str = "") -> list[str]:
        return [number, first, "", last, "", email, home, mobile, work, "1 Main St", "Victoria",
                "BC", "V8V 1A1", "Canada", "1980-01-02", "9876543210", "", "", "Active",
                deceased, ""]

    return [
        JANE_HEADER,
        row("17", "Jane", "Doe", "jane@example.com", "555-0110", "555-0111", "555-0112"),
        row("18", "Omar", "Haddad", "omar@example.com", "555-0120", "", "555-0122"),
        row("19", "Kenji", "Tanaka", "kenji@example.com", "", "", "555-0132"),
        row("20", "Ravi", "Okafor", "ravi@example.com", "", "555-0141", "", "2023-06-01"),
    ]


# --- XLSX ------------------------------------------------------------------------------------

_OPC = "http://schemas.openxmlformats.org/package/2006"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SPREADSHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XLSX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Types xmlns="{_OPC}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SPREADSHEETML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_SPREADSHEETML}.styles+xml"/>'
    "{sheets}</Types>"
)
_XLSX_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    f'ContentType="{_SPREADSHEETML}.worksheet+xml"/>'
)
_XLSX_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Relationships xmlns="{_OPC}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_XLSX_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
    '<xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>'
)
_EXCEL_EPOCH = datetime.datetime(1899, 12, 30)
_DATE_STYLE = 1
_DATETIME_STYLE = 2

Cell = str | int | float | datetime.date | None


def xlsx_bytes(
    sheets: Sequence[tuple[str, Sequence[Sequence[Cell]]]],
    *,
    first_row: int = 1,
    first_column: int = 0,
    raw_xml: str = "",
) -> bytes:
    """A minimal workbook written by hand (openpyxl is not a dependency): inline strings, numbers,
    dates as styled serial numbers. `first_row`/`first_column` leave an empty area top-left;
    `raw_xml` is added as is at the end of the first sheet's data."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            _XLSX_CONTENT_TYPES.format(
                sheets="".join(_XLSX_SHEET_TYPE.format(n=n) for n in range(1, len(sheets) + 1))
            ),
        )
        archive.writestr("_rels/.rels", _XLSX_ROOT_RELS)
        archive.writestr("xl/workbook.xml", _workbook_xml([name for name, _ in sheets]))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("xl/styles.xml", _XLSX_STYLES)
        for n, (_, rows) in enumerate(sheets, 1):
            xml = _sheet_xml(rows, first_row, first_column)
            if n == 1:
                xml = xml.replace("</sheetData>", raw_xml + "</sheetData>")
            archive.writestr(f"xl/worksheets/sheet{n}.xml", xml)
    return out.getvalue()


def _workbook_xml(names: list[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'xmlns:r="{_OFFICE_RELS}">'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def _workbook_rels(count: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_OFFICE_RELS}/worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, count + 1)
    )
    styles = (
        f'<Relationship Id="rId{count + 1}" Type="{_OFFICE_RELS}/styles" Target="styles.xml"/>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="{_OPC}/relationships">{rels}{styles}</Relationships>'
    )


def _sheet_xml(rows: Sequence[Sequence[Cell]], first_row: int, first_column: int) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    ]
    for row_number, row in enumerate(rows, first_row):
        cells = "".join(
            _cell_xml(f"{column_letter(first_column + i)}{row_number}", value)
            for i, value in enumerate(row)
            if value is not None and value != ""
        )
        if cells:
            parts.append(f'<row r="{row_number}">{cells}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def _cell_xml(ref: str, value: Cell) -> str:
    if isinstance(value, str):
        text = f'<t xml:space="preserve">{escape(value)}</t>'
        return f'<c r="{ref}" t="inlineStr"><is>{text}</is></c>'
    if isinstance(value, datetime.datetime):
        serial = (value - _EXCEL_EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="{_DATETIME_STYLE}"><v>{serial!r}</v></c>'
    if isinstance(value, datetime.date):
        serial = (value - _EXCEL_EPOCH.date()).days
        return f'<c r="{ref}" s="{_DATE_STYLE}"><v>{serial}</v></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def people_xlsx(count: int) -> bytes:
    rows: list[list[Cell]] = [["First Name", "Last Name", "Email", "Mobile Phone", "Birthdate"]]
    for i, p in enumerate(people(count)):
        rows.append([p.first, p.last, p.email, 5550100.0 + i % 100,
                     datetime.date(1970 + i % 40, 1 + i % 12, 1 + i % 28)])
    return xlsx_bytes([("Clients", rows)])


def theranest_xlsx() -> bytes:
    header: list[Cell] = ["First Name", "Last Name", "Client ID Number", "Preferred Name",
                          "Birthdate", "Legal Gender", "Email", "Phone", "Intake Date",
                          "Default Service Type", "State"]
    active: list[list[Cell]] = [
        ["Clients"],
        ["Generated 05/01/2024 10:00 AM"],
        [],
        header,
        ["Jane", "Doe", "", "JD", datetime.date(1980, 1, 2), "Female", "jane@example.com",
         5550150.0, datetime.datetime(2024, 1, 5, 9, 30), "90837", "IL"],
        ["Omar", "Haddad", 4711, "", datetime.date(1975, 3, 4), "Male", "omar@example.com",
         "(555) 555-0151", datetime.date(2023, 2, 1), "90834", "IL"],
    ]
    archived: list[list[Cell]] = [header, ["Old", "Client", "", "", None, "", "old@example.com"]]
    return xlsx_bytes([("Active Clients", active), ("Archived", archived)])


# --- vCard -----------------------------------------------------------------------------------


def fold(line: bytes, width: int = 75) -> bytes:
    """RFC folding at `width` octets, cutting UTF-8 characters in half as Apple Contacts does."""
    chunks = [line[:width]]
    rest = line[width:]
    while rest:
        chunks.append(b" " + rest[: width - 1])
        rest = rest[width - 1 :]
    return b"\r\n".join(chunks)


def vcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def google_vcards() -> bytes:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\n"
        "EMAIL;TYPE=INTERNET;TYPE=HOME:jane.home@example.com\r\n"
        "item1.EMAIL;TYPE=INTERNET:jane.other@example.com\r\nitem1.X-ABLabel:Other\r\n"
        "TEL;TYPE=HOME:555-0160\r\nitem2.TEL:555-0161\r\nitem2.X-ABLabel:Mobile\r\n"
        "END:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Acme Counseling Supplies\r\nN:;;;;\r\n"
        "ORG:Acme Counseling Supplies;\r\nEMAIL;TYPE=INTERNET:sales@example.com\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:O\\, Brien\r\nN:O\\;Brien;Liam\\, Jr;;;\r\n"
        "EMAIL;TYPE=INTERNET:liam@example.com\r\nNOTE:Line one\\nLine two\r\nEND:VCARD\r\n"
    ).encode()


def apple_vcard(first: str, last: str, *, note: str = "") -> bytes:
    """Apple Contacts: CRLF, 75-octet folding also inside UTF-8 text and the base64 photo,
    several EMAIL/TEL with lower-case repeated `type=` and `type=pref`."""
    photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 300
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{vcard_escape(last)};{vcard_escape(first)};;;",
        f"FN:{vcard_escape(first)} {vcard_escape(last)}",
        "EMAIL;type=INTERNET;type=WORK:work@example.com",
        "EMAIL;type=INTERNET;type=HOME;type=pref:home@example.com",
        "TEL;type=WORK;type=VOICE;type=pref:555-0170",
        "TEL;type=CELL;type=VOICE:555-0171",
        f"NOTE:{vcard_escape(note)}",
        photo,
        "END:VCARD",
    ]
    return b"\r\n".join(fold(line.encode("utf-8")) for line in lines) + b"\r\n"


def qp_encode(data: bytes, *, width: int = 76) -> bytes:
    """Quoted-printable with `=` soft line breaks, as Outlook writes vCard 2.1 values."""
    encoded = "".join(
        chr(b) if 33 <= b <= 126 and b != 61 else f"={b:02X}" for b in data
    ).encode("ascii")
    lines = []
    while len(encoded) > width - 1:
        cut = width - 1
        # never split an `=XX` escape across the soft break
        while encoded[cut - 2 : cut - 1] == b"=" or encoded[cut - 1 : cut] == b"=":
            cut -= 1
        lines.append(encoded[:cut] + b"=")
        encoded = encoded[cut:]
    lines.append(encoded)
    return b"\r\n".join(lines)


def outlook_vcard(first: str, last: str, *, note: str = "") -> bytes:
    """Outlook: vCard 2.1, bare types, QUOTED-PRINTABLE in Windows-1252 with soft breaks."""
    name = qp_encode(f"{last};{first};;;".encode("windows-1252"))
    body = qp_encode(note.encode("windows-1252"))
    return b"\r\n".join([
        b"BEGIN:VCARD",
        b"VERSION:2.1",
        b"N;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:" + name,
        b"FN;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:"
        + qp_encode(f"{first} {last}".encode("windows-1252")),
        b"NOTE;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:" + body,
        b"TEL;WORK;VOICE:555-0180",
        b"TEL;CELL;VOICE:555-0181",
        b"EMAIL;PREF;INTERNET:outlook@example.com",
        b"EMAIL;INTERNET:second@example.com",
        b"END:VCARD",
        b"",
    ])


def vcard4() -> bytes:
    return "\ufeff".encode() + (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Kenji Tanaka\r\n"
        "EMAIL;TYPE=work:kenji.work@example.com\r\nEMAIL;PREF=1:kenji@example.com\r\n"
        'TEL;VALUE=uri;TYPE="voice,home":tel:+1-555-555-0190\r\n'
        'TEL;VALUE=uri;TYPE="cell,voice";PREF=2:tel:+1-555-555-0191;ext=7\r\n'
        "BDAY:19900506\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:org\r\nFN:Clinic\r\nEND:VCARD\r\n"
    ).encode()


def simplepractice_vcard(first: str, last: str, email: str, phone: str,
                         birthday: datetime.date | None) -> bytes:
    lines = [
        "BEGIN:VCARD", "VERSION:3.0", "PRODID:-//SimplePractice//EN",
        f"N:{vcard_escape(last)};{vcard_escape(first)};;;",
        f"FN:{vcard_escape(first)} {vcard_escape(last)}",
        "ADR;TYPE=home:;;1 Main St;Springfield;IL;62701;US",
        f"TEL;TYPE=mobile:{phone}",
        f"EMAIL;TYPE=home:{email}",
    ]
    if birthday is not None:
        lines.append(f"BDAY:{birthday:%Y%m%d}")
    lines.append("END:VCARD")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


# --- PDF -------------------------------------------------------------------------------------


def pdf_bytes(lines: Sequence[str], *, compress: bool = False) -> bytes:
    """A one-page PDF whose text (e.g. `DOB: 01/02/1980`) sits in a plain or deflated stream."""
    text = " ".join(
        f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -14 Td" for line in lines
    )
    content = f"BT /F1 11 Tf 72 720 Td {text} ET".encode("latin-1")
    stream_dict = f"/Length {len(content)}"
    if compress:
        content = zlib.compress(content)
        stream_dict = f"/Length {len(content)} /Filter /FlateDecode"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< {stream_dict} >>\nstream\n".encode() + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# --- Zip -------------------------------------------------------------------------------------


def zip_bytes(members: Iterable[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@dataclass(frozen=True)
class RawEntry:
    """One member written byte by byte, so its headers can lie."""

    name: str
    payload: bytes
    method: int = zipfile.ZIP_STORED
    crc: int = 0
    file_size: int = 0
    compress_size: int | None = None
    flags: int = 0
    external_attr: int = 0
    create_system: int = 3


def stored(name: str, data: bytes, **overrides: object) -> RawEntry:
    fields: dict[str, object] = {
        "crc": zlib.crc32(data), "file_size": len(data), **overrides
    }
    return RawEntry(name, data, **fields)  # type: ignore[arg-type]


def deflated(name: str, data: bytes, **overrides: object) -> RawEntry:
    fields: dict[str, object] = {
        "method": zipfile.ZIP_DEFLATED, "crc": zlib.crc32(data), "file_size": len(data),
        **overrides,
    }
    return RawEntry(name, deflate(data), **fields)  # type: ignore[arg-type]


def raw_zip(
    entries: Sequence[RawEntry], *, declared_count: int | None = None, zip64: bool = False
) -> bytes:
    """`declared_count` makes the end record lie about the number of entries; `zip64` writes
    that count in a zip64 end record, as archives with more than 65,535 entries do."""
    out = bytearray()
    central = bytearray()
    for entry in entries:
        name = entry.name.encode("utf-8")
        flags = entry.flags | (0x800 if not entry.name.isascii() else 0)
        compress_size = len(entry.payload) if entry.compress_size is None else entry.compress_size
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, entry.method, 0, 0x21,
                           entry.crc, compress_size, entry.file_size, len(name), 0)
        out += name + entry.payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20 | entry.create_system << 8, 20,
                               flags, entry.method, 0, 0x21, entry.crc, compress_size,
                               entry.file_size, len(name), 0, 0, 0, 0, entry.external_attr,
                               offset)
        central += name
    count = len(entries) if declared_count is None else declared_count
    tail = b""
    if zip64:
        record = len(out) + len(central)
        tail = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                           len(central), len(out))
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, record, 1)
        count = 0xFFFF
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(out), 0)
    return bytes(out + central + tail + end)


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


class _ZipCrypto:
    """Traditional PKWARE encryption, which zipfile can read but not write."""

    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for byte in password:
            self._update(byte)

    def _update(self, byte: int) -> None:
        k0, k1, k2 = self.keys
        k0 = (k0 >> 8) ^ _CRC_TABLE[(k0 ^ byte) & 0xFF]
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = (k2 >> 8) ^ _CRC_TABLE[(k2 ^ (k1 >> 24)) & 0xFF]
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            temp = (self.keys[2] | 2) & 0xFFFF
            out.append(byte ^ ((temp * (temp ^ 1)) >> 8) & 0xFF)
            self._update(byte)
        return bytes(out)


def zipcrypto_entry(name: str, data: bytes, password: str) -> RawEntry:
    crc = zlib.crc32(data)
    header = os.urandom(11) + bytes([crc >> 24])
    payload = _ZipCrypto(password.encode()).encrypt(header + deflate(data))
    return RawEntry(name, payload, zipfile.ZIP_DEFLATED, crc, len(data), flags=0x1)


# --- SimplePractice export -------------------------------------------------------------------

SP_ROOT = "SimplePractice Export - Complete - 2024-05-01/"


def simplepractice_export(*, root: str = SP_ROOT, records: str = "Client records/",
                          mac_junk: bool = True) -> bytes:
    """A "Complete" export: cards for clients and non-clients, documents by first+last name,
    two clients named Alex Kim told apart by DOB lines, a couple, billing documents."""
    members: list[tuple[str, bytes]] = []

    def card(display: str, client_id: str, first: str, last: str, email: str, phone: str,
             birthday: datetime.date | None) -> None:
        members.append((f"{root}Contacts/{display} - {client_id}.vcf",
                        simplepractice_vcard(first, last, email, phone, birthday)))

    def document(path: str, data: bytes) -> None:
        members.append((f"{root}{records}{path}", data))

    def note(client: str, dob: str | None) -> bytes:
        lines = [f"Client: {client}", "Provider: Dr Morgan Lee", "Progress note"]
        return pdf_bytes(lines[:1] + ([f"DOB: {dob}"] if dob else []) + lines[1:])

    card("Jane Q Doe", "1001", "Jane", "Doe", "jane.doe@example.com", "555-0101",
         datetime.date(1980, 1, 2))
    card("Alex Kim", "1002", "Alex", "Kim", "alex.kim@example.com", "555-0102",
         datetime.date(1975, 3, 4))
    card("Alex Kim", "1003", "Alex", "Kim", "alex.kim2@example.com", "555-0103",
         datetime.date(1990, 5, 6))
    card("Sam Rivera", "1004", "Sam", "Rivera", "sam.rivera@example.com", "555-0104", None)
    card("Chris Rivera", "1005", "Chris", "Rivera", "chris.rivera@example.com", "555-0105", None)
    card("Pat Guardian", "1006", "Pat", "Guardian", "pat@example.com", "555-0106", None)
    card("José Núñez", "1007", "José", "Núñez", "jose@example.com", "555-0107",
         datetime.date(1985, 7, 8))

    document("Medical Records/Jane Doe/Progress Note 2024-01-05.pdf",
             note("Jane Doe", "01/02/1980"))
    document("Medical Records/Jane Doe/Questionnaires/PHQ-9.pdf", note("Jane Doe", None))
    document("Psychotherapy Notes/Jane Doe/Session 1.pdf", note("Jane Doe", None))
    document("Administrative/Jane Doe/Consent.pdf", note("Jane Doe", None))
    document("Stored documents/Jane Doe/1-intake form.docx", b"fake docx bytes")
    document("Billing Documents/Jane Doe/Invoices/INV-0001.pdf", pdf_bytes(["Invoice $150.00"]))
    document("Billing Documents/Jane Doe/Statements/Statement.pdf", pdf_bytes(["Statement"]))
    document("Billing Documents/Jane Doe/Statements for Insurance Reimbursements/S1.pdf",
             pdf_bytes(["Superbill", "Member ID W123456789"]))
    document("Secure messages/Dr Morgan Lee-Jane Doe.txt", b"Hello from the portal")
    document("Medical Records/Alex Kim/Note 1975.pdf", note("Alex Kim", "03/04/1975"))
    document("Medical Records/Alex Kim/Note 1990.pdf",
             pdf_bytes(["Client: Alex Kim", "DOB: 1990-05-06"], compress=True))
    document("Medical Records/Alex Kim/Note unknown.pdf", note("Alex Kim", None))
    document("Stored documents/Alex Kim/2-scan.jpg", b"\xff\xd8\xff fake jpeg")
    document("Medical Records/Sam & Chris Rivera/Couples session.pdf",
             note("Sam & Chris Rivera", None))
    document("Medical Records/Jose Nunez/Note.pdf", note("Jose Nunez", "07/08/1985"))
    document("Medical Records/Nobody Known/Note.pdf", note("Nobody Known", None))
    if mac_junk:
        members.append((f"__MACOSX/{root}Contacts/._Jane Q Doe - 1001.vcf", b"\x00\x05\x16\x07"))
        members.append((f"{root}.DS_Store", b"\x00\x00\x00\x01Bud1"))
        members.append((f"{root}{records}Medical Records/Jane Doe/._Consent.pdf", b"\x00junk"))
    return zip_bytes(members)


def encrypt_zip(data: bytes, password: str) -> bytes:
    """The same archive with every member ZipCrypto-encrypted, as a password-protected export."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return raw_zip([zipcrypto_entry(info.filename, archive.read(info), password)
                        for info in archive.infolist()])
