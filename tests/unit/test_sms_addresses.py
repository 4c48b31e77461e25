"""SMS addresses: a mainland mobile, stored in one form whatever way it was typed."""

import pytest

from bot.core.phones import mobile
from bot.core.types import KNOWN_CAPABILITIES, normalize_address


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sms:13912345678", "sms:13912345678"),
        ("SMS: 13912345678 ", "sms:13912345678"),
        ("sms:+8613912345678", "sms:13912345678"),
        ("sms:008613912345678", "sms:13912345678"),
        ("sms:8613912345678", "sms:13912345678"),
        ("sms:+86 139-1234-5678", "sms:13912345678"),
        ("sms:(139) 1234 5678", "sms:13912345678"),
        ("sms:（139）12345678", "sms:13912345678"),
        ("sms:19912345678", "sms:19912345678"),
    ],
)
def test_sms_address_is_normalised(raw: str, expected: str) -> None:
    assert normalize_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "sms:",
        "sms:1391234567",  # 10 digits
        "sms:139123456789",  # 12 digits
        "sms:12912345678",  # 12x is no mobile prefix
        "sms:10086",
        "sms:02112345678",  # a landline
        "sms:+1 415 555 0100",
        "sms:+8713912345678",
        "sms:139.1234.5678",
        "sms:１３９１２３４５６７８",  # full-width digits
        "sms:139123456７8",
        "sms:abc",
        "sms:13912345678;sms:13812345678",
    ],
)
def test_sms_address_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="sms ids are mainland mobiles") as caught:
        normalize_address(raw)
    assert "is not a valid address" in str(caught.value)


def test_the_mobile_rule_is_one() -> None:
    """The chat's contact questions and the SMS address read a number the same way."""
    for raw in ("+86 139-1234-5678", "008613912345678", "13912345678", "139 1234 5678"):
        assert mobile(raw) == "13912345678"
        assert normalize_address(f"sms:{raw}") == f"sms:{mobile(raw)}"
    assert mobile("12912345678") is None


def test_sms_carries_one_part_without_buttons() -> None:
    caps = KNOWN_CAPABILITIES["sms"]
    assert caps.max_text == 35  # Alibaba's template variable
    assert caps.buttons is False
    assert caps.can_edit is False
