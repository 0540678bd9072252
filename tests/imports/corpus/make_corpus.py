"""Regenerates the real-writer corpus in this folder (rule I12): small client lists saved by the
programs practices use, so every reader is tested against what those programs write rather than
against our own fixtures alone.

    python tests/imports/corpus/make_corpus.py          # openpyxl, XlsxWriter, hand-shaped packages
    python tests/imports/corpus/make_corpus.py --libreoffice   # also LibreOffice headless (soffice)

Run by hand when a writer changes; the test suite reads the committed files and needs none of the
writers. Fake people only (example.com, 555-01xx). Workbooks are normalised after writing (fixed
zip timestamps, fixed docProps dates) so regenerating them gives the same bytes where the writer allows.

Excel itself, Numbers and Google Sheets cannot run here: their packages are built by hand from the
parts those programs are documented to write (a theme part with `dir="5400000"`-style attributes,
styles, shared strings, `<dimension ref>`, docProps; Numbers' table title row above the header;
Google Sheets' files without a dimension and with inline numbers for phones).
"""

import csv
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADERS = ["First Name", "Last Name", "Email", "Mobile Phone"]
# Multi-word, accented and particle names: each must arrive whole (rule I12).
PEOPLE = [
    ["Jane", "Doe", "jane.doe@example.com", "(212) 555-0101"],
    ["Thị Minh", "Nguyễn", "minh.nguyen@example.com", "212-555-0102"],
    ["José María", "García López", "jose.garcia@example.com", "+1 212 555 0103"],
    ["Mary Ann", "de la Cruz", "maryann@example.com", "2125550104"],
    ["Zoë", "O’Brien-Łukasz", "zoe@example.com", ""],
    ["Ngozi", "Okonkwo", "ngozi@example.com", "212.555.0105"],
]
FIXED_DATE = (2024, 1, 1, 0, 0, 0)
CORE_DATES = b"2024-01-01T00:00:00Z"


def expected_people() -> list[tuple[str, str, str]]:
    return [(first, last, email) for first, last, email, _ in PEOPLE]


# --- CSV as each program writes it ----------------------------------------------------------------


def _csv_text(delimiter: str = ",", line_end: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(HEADERS)
    writer.writerows(PEOPLE)
    return out.getvalue()


def write_csvs() -> None:
    # Excel "CSV UTF-8 (Comma delimited)": BOM, CRLF.
    (HERE / "excel_csv_utf8.csv").write_bytes(b"\xef\xbb\xbf" + _csv_text().encode())
    # Excel's plain "CSV" on Windows: Windows-1252, CRLF (names outside 1252 cannot be saved: Excel
    # writes "?", so this file holds only the people 1252 can spell).
    plain = io.StringIO()
    writer = csv.writer(plain, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(p for p in PEOPLE if _fits_1252(p))
    (HERE / "excel_csv_windows1252.csv").write_bytes(plain.getvalue().encode("cp1252"))
    # Excel in a European locale: `sep=;` first line, semicolons.
    (HERE / "excel_csv_semicolon.csv").write_bytes(("sep=;\r\n" + _csv_text(";")).encode())
    # Google Sheets "Download as CSV": UTF-8 without BOM, CRLF, no trailing line break.
    (HERE / "google_sheets.csv").write_bytes(_csv_text().rstrip("\r\n").encode())
    # Numbers "Export to CSV" (Unicode UTF-8): LF? Numbers writes CRLF as well; a trailing empty column
    # appears when the table is wider than its data.
    text = _csv_text().replace("\r\n", ",\r\n")
    (HERE / "numbers.csv").write_bytes(text.encode())


def _fits_1252(person: list[str]) -> bool:
    try:
        ",".join(person).encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


# --- workbooks by real writers --------------------------------------------------------------------


def write_openpyxl() -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Clients"
    sheet.append(HEADERS)
    for person in PEOPLE:
        sheet.append(person)
    _save_normalised(book.save, "openpyxl.xlsx")


def write_xlsxwriter() -> None:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    import datetime

    book.set_properties({"created": datetime.datetime(2024, 1, 1)})
    sheet = book.add_worksheet("Client list")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, HEADERS, bold)
    for index, person in enumerate(PEOPLE, 1):
        sheet.write_row(index, 0, person)
    # A phone typed as a number, as people do: 2125550106.
    sheet.write_row(len(PEOPLE) + 1, 0, ["Omar", "Haddad", "omar@example.com"])
    sheet.write_number(len(PEOPLE) + 1, 3, 2125550106)
    book.add_worksheet("Notes").write(0, 0, "not read")
    book.close()
    _normalise(out.getvalue(), HERE / "xlsxwriter.xlsx")


def write_theranest_xlsxwriter() -> None:
    """TheraNest's "Export all clients" as documented: a title line above the header row."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Clients")
    sheet.write(0, 0, "Generated 01/01/2024")
    header = ["Client ID Number", "First Name", "Last Name", "Preferred Name", "Birthdate", "Legal Gender",
              "Email", "Phone", "Intake Date", "Default Service Type", "State"]
    sheet.write_row(2, 0, header)
    for index, (first, last, email, phone) in enumerate(PEOPLE, 3):
        sheet.write_row(index, 0, ["", first, last, "", "", "", email, phone, "", "Individual", "NY"])
    book.close()
    _normalise(out.getvalue(), HERE / "theranest_xlsxwriter.xlsx")


def write_libreoffice() -> None:
    """LibreOffice Calc headless converts the UTF-8 CSV to .xlsx and back to CSV."""
    soffice = shutil.which("soffice")
    if soffice is None:
        sys.exit("soffice not found: install LibreOffice Calc to regenerate the LibreOffice files")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "libreoffice.csv"
        source.write_text(_csv_text())
        profile = f"-env:UserInstallation=file://{work}/profile"
        # 44,34,76: comma, double quote, UTF-8; 1,1,1,1 keeps every column as text... except that
        # LibreOffice detects numbers itself with the "standard" column type, as a person's file would.
        subprocess.run([soffice, profile, "--headless", "--infilter=CSV:44,34,76,1", "--convert-to",
                        "xlsx:Calc MS Excel 2007 XML", "--outdir", work, str(source)], check=True,
                       capture_output=True, timeout=180)
        _normalise((Path(work) / "libreoffice.xlsx").read_bytes(), HERE / "libreoffice.xlsx")
        back = Path(work) / "back"
        back.mkdir()
        subprocess.run([soffice, profile, "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
                        "--outdir", str(back), str(Path(work) / "libreoffice.xlsx")], check=True,
                       capture_output=True, timeout=180)
        shutil.copy(back / "libreoffice.csv", HERE / "libreoffice.csv")


# --- packages shaped by hand where the program cannot run here ------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme" Target="theme/theme1.xml"/>'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
# Excel's Office theme: the gradient and light-rig attributes (`ang="5400000"`, `dir="t"`, `rev="1200000"`,
# `<a:lightRig rig="threePt" dir="t"><a:rot lat="0" lon="0" rev="1200000"/>`) are what an unanchored
# search for `r="<digits>"` misread as a row number.
_THEME = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="Office Theme"><a:themeElements>'
    '<a:clrScheme name="Office"><a:dk1><a:sysClr val="windowText" lastClr="000000"/></a:dk1>'
    '<a:lt1><a:sysClr val="window" lastClr="FFFFFF"/></a:lt1><a:dk2><a:srgbClr val="44546A"/></a:dk2>'
    '<a:lt2><a:srgbClr val="E7E6E6"/></a:lt2><a:accent1><a:srgbClr val="4472C4"/></a:accent1>'
    '<a:accent2><a:srgbClr val="ED7D31"/></a:accent2><a:accent3><a:srgbClr val="A5A5A5"/></a:accent3>'
    '<a:accent4><a:srgbClr val="FFC000"/></a:accent4><a:accent5><a:srgbClr val="5B9BD5"/></a:accent5>'
    '<a:accent6><a:srgbClr val="70AD47"/></a:accent6><a:hlink><a:srgbClr val="0563C1"/></a:hlink>'
    '<a:folHlink><a:srgbClr val="954F72"/></a:folHlink></a:clrScheme>'
    '<a:fontScheme name="Office"><a:majorFont><a:latin typeface="Calibri Light" panose="020F0302020204030204"/>'
    '<a:ea typeface=""/><a:cs typeface=""/></a:majorFont><a:minorFont><a:latin typeface="Calibri" '
    'panose="020F0502020204030204"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont></a:fontScheme>'
    '<a:fmtScheme name="Office"><a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
    '<a:gradFill rotWithShape="1"><a:gsLst><a:gs pos="0"><a:schemeClr val="phClr"><a:lumMod val="110000"/>'
    '<a:satMod val="105000"/><a:tint val="67000"/></a:schemeClr></a:gs><a:gs pos="50000"><a:schemeClr val="phClr">'
    '<a:lumMod val="105000"/><a:satMod val="103000"/><a:tint val="73000"/></a:schemeClr></a:gs></a:gsLst>'
    '<a:lin ang="5400000" scaled="0"/></a:gradFill></a:fillStyleLst>'
    '<a:lnStyleLst><a:ln w="6350" cap="flat" cmpd="sng" algn="ctr"><a:solidFill><a:schemeClr val="phClr"/>'
    '</a:solidFill><a:prstDash val="solid"/><a:miter lim="800000"/></a:ln></a:lnStyleLst>'
    '<a:effectStyleLst><a:effectStyle><a:effectLst><a:outerShdw blurRad="57150" dist="19050" dir="5400000" '
    'algn="ctr" rotWithShape="0"><a:srgbClr val="000000"><a:alpha val="63000"/></a:srgbClr></a:outerShdw>'
    '</a:effectLst><a:scene3d><a:camera prst="orthographicFront"/><a:lightRig rig="threePt" dir="t">'
    '<a:rot lat="0" lon="0" rev="1200000"/></a:lightRig></a:scene3d></a:effectStyle></a:effectStyleLst>'
    '<a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst></a:fmtScheme>'
    "</a:themeElements></a:theme>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
    '<scheme val="minor"/></font><font><b/><sz val="11"/><color theme="1"/><name val="Calibri"/>'
    '<family val="2"/><scheme val="minor"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _docprops(application: str) -> dict[str, str]:
    return {
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>Front Desk</dc:creator>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-01-01T00:00:00Z</dcterms:created>'
            "</cp:coreProperties>"
        ),
        "docProps/app.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            f"<Application>{application}</Application><DocSecurity>0</DocSecurity></Properties>"
        ),
    }


def _shaped_package(application: str, sheet_xml: str, strings: list[str], sheet_name: str) -> dict[str, str]:
    from xml.sax.saxutils import escape

    sst = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
    return {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        **_docprops(application),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<bookViews><workbookView xWindow="-120" yWindow="-120" windowWidth="29040" windowHeight="15840"/></bookViews>'
            f'<sheets><sheet name="{escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets>'
            '<calcPr calcId="191029"/></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
        "xl/theme/theme1.xml": _THEME,
        "xl/styles.xml": _STYLES,
        "xl/sharedStrings.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>'
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }


def _sheet(rows: list[list[str | int]], *, first_row: int, dimension: bool, prefix: str = "") -> tuple[str, list[str]]:
    strings: list[str] = []
    index: dict[str, int] = {}
    xml_rows = []
    width = max(len(r) for r in rows)
    for number, row in enumerate(rows, first_row):
        cells = []
        for column, value in enumerate(row):
            ref = f"{chr(65 + column)}{number}"
            if value == "":
                continue
            if isinstance(value, int):
                cells.append(f'<{prefix}c r="{ref}"><{prefix}v>{value}</{prefix}v></{prefix}c>')
                continue
            if value not in index:
                index[value] = len(strings)
                strings.append(value)
            style = ' s="1"' if number == first_row else ""
            cells.append(f'<{prefix}c r="{ref}"{style} t="s"><{prefix}v>{index[value]}</{prefix}v></{prefix}c>')
        xml_rows.append(f'<{prefix}row r="{number}" spans="1:{width}" x14ac:dyDescent="0.25">{"".join(cells)}</{prefix}row>')
    last = f"{chr(64 + width)}{first_row + len(rows) - 1}"
    ns = f"xmlns{':' + prefix[:-1] if prefix else ''}"
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        f'<{prefix}worksheet {ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" '
        'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
        + (f'<{prefix}dimension ref="A1:{last}"/>' if dimension else "")
        + f'<{prefix}sheetViews><{prefix}sheetView tabSelected="1" workbookViewId="0"/></{prefix}sheetViews>'
        f'<{prefix}sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/>'
        f'<{prefix}sheetData>{"".join(xml_rows)}</{prefix}sheetData>'
        f'<{prefix}pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        f"</{prefix}worksheet>"
    )
    return sheet, strings


def write_shaped() -> None:
    table = [HEADERS, *PEOPLE]
    # Excel 365 on Windows: theme, styles, shared strings, dimension, docProps.
    sheet, strings = _sheet(table, first_row=1, dimension=True)
    _write_package(HERE / "excel_shaped.xlsx", _shaped_package("Microsoft Excel", sheet, strings, "Sheet1"))
    # Numbers "Export To Excel": each table's name as a title row above its header, sheet named "Sheet 1".
    sheet, strings = _sheet([["Table 1"], HEADERS, *PEOPLE], first_row=1, dimension=True)
    _write_package(HERE / "numbers_shaped.xlsx", _shaped_package("Numbers", sheet, strings, "Sheet 1"))
    # Google Sheets "Download as .xlsx": no dimension, phones typed as numbers stay numbers.
    digits = [[p[0], p[1], p[2], int("".join(c for c in p[3] if c.isdigit())[-10:]) if p[3] else ""] for p in PEOPLE]
    sheet, strings = _sheet([HEADERS, *digits], first_row=1, dimension=False)
    _write_package(HERE / "google_sheets_shaped.xlsx", _shaped_package("Google Sheets", sheet, strings, "Sheet1"))
    # The Open XML SDK (what many export tools use) writes prefixed elements: <x:row>, <x:c>.
    sheet, strings = _sheet(table, first_row=1, dimension=True, prefix="x:")
    _write_package(HERE / "openxml_sdk_prefixed.xlsx", _shaped_package("Microsoft Excel", sheet, strings, "Sheet1"))


# --- normalising ----------------------------------------------------------------------------------


def _write_package(path: Path, parts: dict[str, str]) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(zipfile.ZipInfo(name, FIXED_DATE), text.encode(), zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())


def _save_normalised(save, name: str) -> None:
    out = io.BytesIO()
    save(out)
    _normalise(out.getvalue(), HERE / name)


def _normalise(data: bytes, path: Path) -> None:
    """Same parts, same order, fixed timestamps: a regenerated file differs only where the writer did."""
    import re

    source = zipfile.ZipFile(io.BytesIO(data))
    parts = {}
    for info in source.infolist():
        body = source.read(info)
        if info.filename == "docProps/core.xml":
            body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", CORE_DATES, body)
        parts[info.filename] = body
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(zipfile.ZipInfo(name, FIXED_DATE), body, zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())


def main() -> None:
    write_csvs()
    write_openpyxl()
    write_xlsxwriter()
    write_theranest_xlsxwriter()
    write_shaped()
    if "--libreoffice" in sys.argv:
        write_libreoffice()


if __name__ == "__main__":
    main()
