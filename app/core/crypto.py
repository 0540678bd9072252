"""Encryption at rest for secrets we must read back (bank accounts, tax ids, member ids).

AES-256-GCM with a key id prefix, so keys can rotate: the first configured key encrypts, any
configured key decrypts. Values are bound to their purpose (associated data), so a ciphertext
copied from one column into another does not decrypt.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.config import get_settings


@lru_cache
def _keys() -> list[tuple[bytes, AESGCM]]:
    keys = []
    for encoded in get_settings().encryption_keys:
        material = hashlib.sha256(base64.b64decode(encoded)).digest()
        key_id = hashlib.sha256(b"key-id" + material).digest()[:4]
        keys.append((key_id, AESGCM(material)))
    return keys


def encrypt(plaintext: str, *, purpose: str) -> bytes:
    return encrypt_bytes(plaintext.encode(), purpose=purpose)


def decrypt(ciphertext: bytes, *, purpose: str) -> str:
    return decrypt_bytes(ciphertext, purpose=purpose).decode()


def encrypt_bytes(plaintext: bytes, *, purpose: str) -> bytes:
    key_id, aead = _keys()[0]
    nonce = os.urandom(12)
    return key_id + nonce + aead.encrypt(nonce, plaintext, purpose.encode())


def decrypt_bytes(ciphertext: bytes, *, purpose: str) -> bytes:
    key_id, nonce, sealed = ciphertext[:4], ciphertext[4:16], ciphertext[16:]
    for candidate_id, aead in _keys():
        if candidate_id == key_id:
            return aead.decrypt(nonce, sealed, purpose.encode())
    raise ValueError("ciphertext was made with a key that is no longer configured")


def keyed_digest(data: bytes, *, purpose: str) -> bytes:
    """HMAC-SHA256 under the current key: a stored digest of a body holding a password cannot be guessed offline."""
    return hmac.new(_digest_key(purpose), data, hashlib.sha256).digest()


@lru_cache
def _digest_key(purpose: str) -> bytes:
    return hashlib.sha256(b"digest:" + purpose.encode() + base64.b64decode(get_settings().encryption_keys[0])).digest()


def last4(value: str) -> str:
    digits = [c for c in value if c.isalnum()]
    return "".join(digits[-4:])
