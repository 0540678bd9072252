"""Opening an uploaded zip without trusting it (rule I11): nothing is extracted to disk, every
limit is checked on the central directory first and again on the bytes as they inflate."""

import copy
import io
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable

from app.imports.parsers.errors import ImportRejected
from app.imports.parsers.limits import ImportLimits, describe_size

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"
_LOCAL_HEADER_SIZE = 30
_FLAG_ENCRYPTED = 0x1
_FLAG_STRONG_ENCRYPTION = 0x40
_METHOD_AES = 99
_READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_CHUNK = 1024 * 1024
# Anything zipfile may raise on a damaged archive or member.
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error,
            ValueError, OSError, NotImplementedError, OverflowError)

_RE_EXPORT = "Export it again without a password."


class SafeZip:
    def __init__(self, data: bytes, limits: ImportLimits, password: str | None) -> None:
        # zipfile builds an object per central-directory entry before anything can be counted.
        declared = _declared_entry_count(data)
        if declared is not None and declared > limits.max_zip_entries:
            raise _too_many_entries(limits)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            entries = self._zip.infolist()
        except _DAMAGED:
            raise ImportRejected("zip_corrupt", "The zip archive is damaged.") from None
        if len(entries) > limits.max_zip_entries:
            raise _too_many_entries(limits)
        self.files: dict[str, zipfile.ZipInfo] = {}
        for info in entries:
            _check_entry(info, limits)
            if info.is_dir():
                continue
            if info.orig_filename in self.files:
                raise ImportRejected(
                    "zip_corrupt",
                    "The zip archive names one file twice.",
                    member=info.orig_filename,
                )
            self.files[info.orig_filename] = info
        _check_totals(entries, len(data), limits)
        self._password = _check_password(self._zip, self.files.values(), password)

    def read(self, info: zipfile.ZipInfo) -> bytes:
        parts: list[bytes] = []
        self._inflate(info, parts.append)
        return b"".join(parts)

    def verify(self, infos: Iterable[zipfile.ZipInfo]) -> None:
        """Inflate and discard, so a damaged or lying member refuses the file before import."""
        for info in infos:
            self._inflate(info, None)

    def _inflate(self, info: zipfile.ZipInfo, sink: Callable[[bytes], object] | None) -> None:
        # zipfile cuts a member at its declared size and then reports a bad CRC; lifting that cap
        # lets the real inflated size be counted, and the member stopped the moment it lies.
        # Declared sizes passed the limits, so a member held to its own declared size keeps every
        # total within them too.
        uncapped = copy.copy(info)
        uncapped.file_size = sys.maxsize
        produced = 0
        try:
            with self._zip.open(uncapped, pwd=self._password) as member:
                while chunk := member.read(_CHUNK):
                    produced += len(chunk)
                    if produced > info.file_size:
                        raise ImportRejected(
                            "zip_bomb",
                            "A file in the zip archive inflates beyond its declared size.",
                            member=info.orig_filename,
                        )
                    if sink is not None:
                        sink(chunk)
        except (*_DAMAGED, RuntimeError):
            if info.flag_bits & _FLAG_ENCRYPTED:
                raise _wrong_password() from None
            raise ImportRejected(
                "zip_corrupt", "A file in the zip archive is damaged.", member=info.orig_filename
            ) from None
        if produced != info.file_size:
            raise ImportRejected(
                "zip_corrupt",
                "A file in the zip archive is shorter than declared.",
                member=info.orig_filename,
            )


def _declared_entry_count(data: bytes) -> int | None:
    """The entry count in the end-of-central-directory record (zip64 aware), if there is one."""
    eocd = data.rfind(_EOCD, max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT))
    if eocd < 0 or eocd + _EOCD_SIZE > len(data):
        return None
    (count,) = struct.unpack_from("<H", data, eocd + 10)
    locator = eocd - _ZIP64_LOCATOR_SIZE
    if count != 0xFFFF or locator < 0 or data[locator : locator + 4] != _ZIP64_LOCATOR:
        return count
    (record,) = struct.unpack_from("<Q", data, locator + 8)
    if data[record : record + 4] != _ZIP64_EOCD or record + 40 > len(data):
        return count
    (count64,) = struct.unpack_from("<Q", data, record + 32)
    return count64


def _check_entry(info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    name = info.orig_filename
    if (
        "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or name[1:2] == ":"
        or ".." in name.split("/")
    ):
        raise ImportRejected(
            "zip_unsafe_path",
            "The zip archive holds a path that points outside it.",
            member=name,
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ImportRejected("zip_symlink", "The zip archive holds a symbolic link.", member=name)
    if info.is_dir():
        return
    if info.compress_type == _METHOD_AES or info.flag_bits & _FLAG_STRONG_ENCRYPTION:
        raise ImportRejected(
            "zip_encrypted",
            "The zip archive is protected with AES encryption, which cannot be read. " + _RE_EXPORT,
            method="aes",
        )
    if info.compress_type not in _READABLE_METHODS:
        raise ImportRejected(
            "zip_unsupported_method",
            "The zip archive uses a compression method that cannot be read. "
            "Create it again with standard (deflate) compression.",
            member=name,
        )
    if info.file_size > limits.max_member_size:
        raise ImportRejected(
            "zip_member_too_large",
            f"A file in the zip archive is larger than {describe_size(limits.max_member_size)}.",
            member=name,
            limit=limits.max_member_size,
        )
    ratio_exceeded = info.file_size > limits.max_ratio * info.compress_size
    if info.file_size > limits.ratio_floor and ratio_exceeded:
        raise ImportRejected(
            "zip_bomb",
            f"A file in the zip archive expands more than {limits.max_ratio} times.",
            member=name,
        )


def _check_totals(entries: list[zipfile.ZipInfo], archive_size: int, limits: ImportLimits) -> None:
    total = sum(info.file_size for info in entries)
    if total > limits.max_uncompressed_total:
        raise ImportRejected(
            "zip_bomb",
            f"The zip archive expands to more than {describe_size(limits.max_uncompressed_total)}.",
            limit=limits.max_uncompressed_total,
        )
    if total > limits.ratio_floor and total > limits.max_ratio * archive_size:
        raise ImportRejected(
            "zip_bomb", f"The zip archive expands more than {limits.max_ratio} times."
        )
    # Entries that share compressed bytes inflate one small kernel many times over; Python 3.11.7's
    # zipfile does not look for them.
    by_offset = sorted(entries, key=lambda info: info.header_offset)
    for entry, following in zip(by_offset, by_offset[1:]):
        if entry.header_offset + _LOCAL_HEADER_SIZE + entry.compress_size > following.header_offset:
            raise ImportRejected("zip_bomb", "Files in the zip archive overlap each other.")


def _check_password(
    archive: zipfile.ZipFile, files: Iterable[zipfile.ZipInfo], password: str | None
) -> bytes | None:
    encrypted = next((info for info in files if info.flag_bits & _FLAG_ENCRYPTED), None)
    if encrypted is None:
        return None
    if password is None:
        raise ImportRejected(
            "zip_encrypted",
            "The zip archive is password protected. Give its password, or " + _RE_EXPORT.lower(),
            method="zipcrypto",
        )
    secret = password.encode("utf-8")
    try:
        # Opening checks the password against the member's encryption header.
        with archive.open(encrypted, pwd=secret):
            pass
    except RuntimeError:
        raise _wrong_password() from None
    except _DAMAGED:
        raise ImportRejected(
            "zip_corrupt", "A file in the zip archive is damaged.", member=encrypted.orig_filename
        ) from None
    return secret


def _wrong_password() -> ImportRejected:
    return ImportRejected("zip_password_wrong", "The password does not open this zip archive.")


def _too_many_entries(limits: ImportLimits) -> ImportRejected:
    return ImportRejected(
        "zip_too_many_entries",
        f"The zip archive holds more than {limits.max_zip_entries:,} files.",
        limit=limits.max_zip_entries,
    )
