import datetime

import pytest

from villa.identity import (
    ID_TYPES,
    IdentityError,
    format_phone,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
    resident_id_birth_date,
    try_normalise_id_number,
    try_normalise_phone,
)

MOBILE = "+8613800138000"
RESIDENT_ID = "11010519491231002X"  # check digits computed with stdnum.cn.ric.calc_check_digit


def refusal(func, *args):
    """Return the message of the IdentityError that func(*args) raises."""
    with pytest.raises(IdentityError) as info:
        func(*args)
    return str(info.value)


# Phone numbers


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "138.0013.8000",
        "(138) 0013 8000",
        "+86 138-0013-8000",
        "+8613800138000",
        "0086 138 0013 8000",
        "8613800138000",
        "１３８００１３８０００",
        "＋８６　１３８－００１３－８０００",
        "138\u20140013\u20148000",
        "  13800138000  ",
    ],
)
def test_every_written_form_of_a_mobile_gives_one_e164(typed):
    assert normalise_phone(typed) == MOBILE


def test_eleven_digit_mobiles_normalise_as_phonenumbers_parses_them():
    """The shortcut for plain 11-digit mobiles accepts and refuses exactly what parsing does."""
    import random

    import phonenumbers

    rng = random.Random(11)
    samples = ["1" + "".join(rng.choice("0123456789") for _ in range(10)) for _ in range(3000)]
    samples += ["10000000000", "11012345678", "12012345678", "19999999999", "16612345678"]
    for digits in samples:
        try:
            parsed = phonenumbers.parse(digits, "CN")
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            assert normalise_phone(digits) == phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
        else:
            assert try_normalise_phone(digits) is None, digits


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("010-12345678", "+861012345678"),
        ("(010) 1234 5678", "+861012345678"),
        ("+86 10 1234 5678", "+861012345678"),
        ("+86 (0)10 1234 5678", "+861012345678"),
        ("(0755) 8888 6666", "+8675588886666"),
        ("0755-88886666", "+8675588886666"),
    ],
)
def test_landlines_with_area_code(typed, e164):
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+852 9123 4567", "+85291234567"),
        ("00852 9123 4567", "+85291234567"),
        ("+853 6612 3456", "+85366123456"),
        ("+886 912 345 678", "+886912345678"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_hong_kong_macau_taiwan_and_foreign_numbers_with_plus(typed, e164):
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize("typed", ["", "   ", None])
def test_empty_phone_is_refused(typed):
    assert refusal(normalise_phone, typed) == "Please enter a phone number."


@pytest.mark.parametrize("typed", ["138OO138000", "tel:13800138000", "138 0013 8000 ext 12", "138#0013"])
def test_letters_and_symbols_in_phone_are_refused(typed):
    assert "only digits" in refusal(normalise_phone, typed)


@pytest.mark.parametrize("typed", ["12345", "1380", "88886666", "2345678", "+852 1234"])
def test_too_short_phone_is_refused(typed):
    assert "too short" in refusal(normalise_phone, typed)


@pytest.mark.parametrize("typed", ["1234567890123456789", "+86 1380013800012345", "010-12345678-123"])
def test_too_long_phone_is_refused(typed):
    assert "too long" in refusal(normalise_phone, typed)


@pytest.mark.parametrize(
    "typed",
    [
        "1380013800",  # one digit missing
        "+861380013800",
        "85291234567",  # Hong Kong without its +, read as a mainland number
        "+999 1234567",  # no such country code
        "()",
        "12345678",  # 8 digits starting with 1: neither a mobile nor a landline
    ],
)
def test_invalid_phone_is_refused_with_check_the_digits(typed):
    message = refusal(normalise_phone, typed)
    assert "not a valid phone number" in message
    assert "+" in message


def test_try_normalise_phone_returns_none_instead_of_raising():
    assert try_normalise_phone("+86 138-0013-8000") == MOBILE
    assert try_normalise_phone("138 0013") is None
    assert try_normalise_phone("abc") is None
    assert try_normalise_phone("") is None


def test_identity_error_is_a_value_error_with_a_message():
    err = IdentityError("Please enter a phone number.")
    assert isinstance(err, ValueError)
    assert err.message == "Please enter a phone number."
    assert str(err) == "Please enter a phone number."


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        (MOBILE, "138 0013 8000"),
        ("+861012345678", "010 1234 5678"),
        ("+8675588886666", "0755 8888 6666"),
        ("+85291234567", "+852 9123 4567"),
        ("+16502530000", "+1 650-253-0000"),
    ],
)
def test_format_phone(e164, shown):
    assert format_phone(e164) == shown


# ID numbers


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (RESIDENT_ID, RESIDENT_ID),
        ("11010519491231002x", RESIDENT_ID),
        ("110105 19491231 002x", RESIDENT_ID),
        ("110105-19491231-002X", RESIDENT_ID),
        ("１１０１０５１９４９１２３１００２ｘ", RESIDENT_ID),
        ("440305199003071236", "440305199003071236"),
        ("810000199001010019", "810000199001010019"),  # Hong Kong residence permit
        ("820000198511200020", "820000198511200020"),  # Macau residence permit
        ("830000200002290031", "830000200002290031"),  # Taiwan residence permit, leap day
    ],
)
def test_valid_resident_ids_are_normalised(typed, stored):
    assert normalise_id_number(typed) == stored
    assert normalise_id_number(typed, "resident") == stored


def test_resident_id_with_wrong_check_digit_is_refused():
    message = refusal(normalise_id_number, "110105194912310021")
    assert "check digit" in message


@pytest.mark.parametrize(
    "typed",
    [
        "110105209901010012",  # born in 2099
        "11010519900230001X",  # 30 February
        "110105199013010016",  # month 13
        "110105189912310015",  # born in 1899
    ],
)
def test_resident_id_with_impossible_birth_date_is_refused(typed):
    assert "birth date" in refusal(normalise_id_number, typed)


def test_old_fifteen_digit_id_asks_for_eighteen_digits():
    assert "18-digit" in refusal(normalise_id_number, "110105491231002")


@pytest.mark.parametrize(("typed", "length"), [("1101051949123100", 16), ("1101051949123100211", 19)])
def test_resident_id_of_wrong_length_is_refused(typed, length):
    message = refusal(normalise_id_number, typed)
    assert "18 characters" in message
    assert f"has {length}" in message


@pytest.mark.parametrize("typed", ["1101051949123100X2", "11010519491231002Y", "110105/19491231002X"])
def test_resident_id_with_bad_characters_is_refused(typed):
    assert "only digits and a final X" in refusal(normalise_id_number, typed)


def test_resident_id_with_unknown_region_is_refused():
    assert "region code" in refusal(normalise_id_number, "990105199001010014")


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_empty_id_number_is_refused_for_every_type(id_type):
    assert refusal(normalise_id_number, " ", id_type) == "Please enter an ID number."


def test_unknown_id_type_is_refused():
    assert "Unknown ID type" in refusal(normalise_id_number, RESIDENT_ID, "driving_licence")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("e12345678", "E12345678"),
        ("EA1234567", "EA1234567"),
        ("G 1234 5678", "G12345678"),
        ("X1234", "X1234"),
    ],
)
def test_passports_are_accepted(typed, stored):
    assert normalise_id_number(typed, "passport") == stored


def test_passport_refusals():
    assert "5 to 20" in refusal(normalise_id_number, "E123", "passport")
    assert "5 to 20" in refusal(normalise_id_number, "E" + "1" * 20, "passport")
    assert "only letters and digits" in refusal(normalise_id_number, "E1234/5678", "passport")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("H12345678", "H12345678"),
        ("m87654321", "M87654321"),
        ("H1234567801", "H12345678"),  # renewal count dropped: the same person after renewal
        ("H 12345678 03", "H12345678"),
    ],
)
def test_hong_kong_macau_permits_are_accepted(typed, stored):
    assert normalise_id_number(typed, "hk_macau") == stored


@pytest.mark.parametrize("typed", ["A12345678", "H1234567", "H123456789", "12345678", "HA2345678"])
def test_hong_kong_macau_permit_refusals(typed):
    assert "H or M followed by 8 digits" in refusal(normalise_id_number, typed, "hk_macau")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12345678", "12345678"),
        ("1234567801", "12345678"),
        ("1234567801(B)", "12345678"),
        ("1234-5678", "12345678"),
    ],
)
def test_taiwan_permits_are_accepted(typed, stored):
    assert normalise_id_number(typed, "taiwan") == stored


@pytest.mark.parametrize("typed", ["1234567", "123456789", "T12345678", "12345678(B)"])
def test_taiwan_permit_refusals(typed):
    assert "8 digits" in refusal(normalise_id_number, typed, "taiwan")


def test_try_normalise_id_number_returns_none_instead_of_raising():
    assert try_normalise_id_number("11010519491231002x") == RESIDENT_ID
    assert try_normalise_id_number("110105194912310021") is None
    assert try_normalise_id_number("H12345678", "hk_macau") == "H12345678"
    assert try_normalise_id_number("H12345678", "nope") is None


def test_resident_id_birth_date():
    assert resident_id_birth_date(RESIDENT_ID) == datetime.date(1949, 12, 31)
    assert resident_id_birth_date("830000200002290031") == datetime.date(2000, 2, 29)
    assert resident_id_birth_date("11010519900230001X") is None
    assert resident_id_birth_date("H12345678") is None
    assert resident_id_birth_date("") is None


# Masking


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        (MOBILE, "138****8000"),
        ("+861012345678", "010****5678"),
        ("+8675588886666", "0755****6666"),
        ("+85291234567", "+852 ****4567"),
        ("+886912345678", "+886 9****5678"),
        ("+16502530000", "+1 65****0000"),
        ("+436641234567890", "+43 664******7890"),  # long numbers still show only 3 + 4
        ("+62812345678901", "+62 812*****8901"),
    ],
)
def test_mask_phone(e164, masked):
    assert mask_phone(e164) == masked


@pytest.mark.parametrize(
    "e164",
    [
        MOBILE,
        "+861012345678",
        "+8675588886666",
        "+85291234567",
        "+16502530000",
        "not a phone 12345678",
    ],
)
def test_masked_phone_never_contains_the_full_number(e164):
    masked = mask_phone(e164)
    national = "".join(ch for ch in e164 if ch.isdigit())
    assert "*" in masked
    assert national[-8:] not in masked.replace(" ", "")
    assert sum(ch.isdigit() for ch in masked.split(" ")[-1]) <= 8


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳娜娜", "欧***"),
        ("John Smith", "J*********"),
        (" 李四 ", "李*"),
        ("张", "*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (RESIDENT_ID, "1101**********002X"),
        ("E12345678", "E******78"),
        ("H1234567801", "H********01"),
        ("12345678", "1*****78"),
        ("X1234", "*****"),
        ("", ""),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize("value", [RESIDENT_ID, "E12345678", "H12345678", "12345678"])
def test_masked_id_never_contains_the_full_number(value):
    masked = mask_id_number(value)
    assert value not in masked
    assert len(masked) == len(value)
    assert masked.count("*") >= len(value) // 2
