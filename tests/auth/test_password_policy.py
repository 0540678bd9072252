"""The password policy, as pure rules: rule A5 (and sign-up, A2)."""

from app.auth.password_policy import common_passwords, problems


def test_the_ten_thousand_most_common_passwords_ship_with_the_package() -> None:
    listed = common_passwords()
    assert len(listed) == 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= listed


def test_refusals_say_what_would_fix_them() -> None:
    # rule A5
    assert problems("short", None) == ["use at least 12 characters"]
    assert problems("x" * 129, None) == ["use at most 128 characters"]
    common = next(p for p in sorted(common_passwords()) if len(p) >= 12)
    assert problems(common.upper(), None) == ["this is one of the most common passwords: choose another"]
    assert problems("Hopper.Grace-2027", "grace@example.com") == ["do not include your email address in the password"]
    assert problems("a sleepy long passphrase", "lee@example.com") == []  # a 3-letter name is inside too many words
    assert problems("correct horse battery staple", "grace@example.com") == []
