"""The one exception a reader raises when it refuses a file (rule I11)."""

from typing import Any


class ImportRejected(Exception):
    """A file refused as a whole, with a stable `code` the caller can branch on.

    `detail` is a sentence for the user that never quotes the file's content, so it is safe to log.
    `extra` carries specifics (column names, line numbers, archive member names); member names and
    cell values can be personal data: show them to the uploader, keep them out of logs.

    Codes: empty_file, no_rows, unsupported_type, bad_encoding, missing_columns, too_many_rows,
    field_too_large, spreadsheet_unreadable, spreadsheet_encrypted, spreadsheet_too_large,
    zip_corrupt, zip_bomb, zip_member_too_large, zip_too_many_entries, zip_unsafe_path,
    zip_symlink, zip_unsupported_method, zip_encrypted, zip_password_wrong, zip_member_not_found.
    """

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra

    def __repr__(self) -> str:
        return f"ImportRejected({self.code!r}, {self.detail!r}, **{self.extra!r})"
