"""Phone and ID numbers: normalise what the front desk types, validate it, mask it for display."""

import datetime
import re
import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberFormat, ValidationResult
from stdnum.cn import ric

from villa.i18n import lazy_gettext as _l

ID_TYPES = ("resident", "passport", "hk_macau", "taiwan")

# NFKC turns full-width characters and the ideographic space into ASCII, but leaves these dashes.
_DASHES = re.escape("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc")
_PHONE_CHARS = re.compile(rf"^\+?[\d\s().{_DASHES}/]+$")
_ID_SEPARATORS = re.compile(rf"[\s{_DASHES}]")
# E.164 allows 15 digits; with the "00" international prefix that is 17. phonenumbers mangles
# longer strings into something shorter instead of refusing them, so they are stopped here.
_MAX_PHONE_DIGITS = 17
# GB/T 2260 province codes, plus 81/82/83 for the residence permits of HK, Macau and Taiwan.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_MIN_HIDDEN = 4
# phonenumbers' own pattern of valid mainland mobile numbers: the 11 digits most desks type,
# checked without parsing (parsing runs on every keystroke of the duplicate check).
_CN_MOBILE = re.compile(phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)


class IdentityError(ValueError):
    """A value a receptionist typed that cannot be a phone or ID number."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return str(self.message)


# Phone numbers


def normalise_phone(raw: str) -> str:
    """Return the E.164 form of a phone number typed any common way; mainland by default."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise IdentityError(_l("Please enter a phone number."))
    if len(text) == 11 and text.isascii() and text.isdigit() and _CN_MOBILE.fullmatch(text):
        return "+86" + text  # what parsing would give (a test compares the two)
    if not _PHONE_CHARS.match(text):
        raise IdentityError(_l("A phone number may contain only digits, spaces, dashes and a leading +."))
    if sum(ch.isdigit() for ch in text) > _MAX_PHONE_DIGITS:
        raise IdentityError(_l("This phone number is too long."))
    number = _parse_phone(text)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def try_normalise_phone(raw: str) -> str | None:
    """Return the E.164 form, or None while the number is incomplete or wrong."""
    try:
        return normalise_phone(raw)
    except IdentityError:
        return None


def phone_problem(raw: str, finished: bool = False) -> str | None:
    """What is wrong with a phone number the desk is typing, or None.

    While the desk is still typing (`finished` false) only what more digits cannot mend is told: a
    character no phone number has, too many digits, or a mainland mobile (1 and 11 digits, what most
    customers give) that is complete and wrong. A landline or a number abroad is complete at several
    lengths, so it is judged only once the desk leaves the field (`finished`): a message at every
    digit of a number still being typed would teach the desk to ignore it.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text or not (finished or _phone_beyond_mending(text)):
        return None
    try:
        normalise_phone(text)
    except IdentityError as err:
        return str(err.message)
    return None


def _phone_beyond_mending(text: str) -> bool:
    if text != "+" and not _PHONE_CHARS.match(text):
        return True
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) > _MAX_PHONE_DIGITS:
        return True
    if text.startswith("+"):
        national = digits[2:] if digits.startswith("86") else ""
    else:
        national = digits[4:] if digits.startswith("0086") else digits
    return national.startswith("1") and len(national) >= 11


def _parse_phone(text: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as err:
        if err.error_type == phonenumbers.NumberParseException.TOO_LONG:
            raise IdentityError(_l("This phone number is too long.")) from None
        raise IdentityError(_invalid_phone_message()) from None
    if phonenumbers.is_valid_number(number):
        return number
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.TOO_LONG:
        raise IdentityError(_l("This phone number is too long."))
    if reason in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY) or (
        _is_local_landline(number)
    ):
        raise IdentityError(_l("This phone number is too short; landlines need their area code."))
    raise IdentityError(_invalid_phone_message())


def _is_local_landline(number: phonenumbers.PhoneNumber) -> bool:
    # "88886666" is a mainland landline typed without its area code; phonenumbers calls it merely
    # invalid, but the receptionist needs to hear that the area code is missing.
    national = phonenumbers.national_significant_number(number)
    return number.country_code == 86 and len(national) in (7, 8) and not national.startswith("1")


def _invalid_phone_message():
    # The common mistake is a Hong Kong or foreign number typed without its +, read as mainland.
    return _l(
        "This is not a valid phone number; check the digits. Numbers outside mainland China "
        "start with + and the country code."
    )


def format_phone(e164: str) -> str:
    """Return a readable form: national for mainland numbers, international for the rest."""
    number = _parse_stored_phone(e164)
    if number is None:
        return e164 or ""
    if number.country_code == 86:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def mask_phone(e164: str, keep_head: bool = True) -> str:
    """Return the phone with its middle starred: 138****8000, 010****5678, +852 ****4567.

    Without `keep_head` (the office's stricter setting) only the last four digits show: *******8000.
    """
    if e164 and len(e164) == 14 and e164.startswith("+861") and e164[1:].isdigit():
        # A mainland mobile, most of every list: no parsing needed.
        return _star_middle(e164[3:], 3 if keep_head else 0)
    number = _parse_stored_phone(e164)
    if number is None:
        return _star_middle(re.sub(r"\D", "", e164 or ""), 3 if keep_head else 0)
    national = phonenumbers.national_significant_number(number)
    if number.country_code != 86:
        return f"+{number.country_code} {_star_middle(national, 3 if keep_head else 0)}"
    if not keep_head:
        return _star_middle(national, 0)
    area = phonenumbers.length_of_geographical_area_code(number)
    if area:
        # Landlines keep the area code, which says only the city, and the trunk 0 people expect.
        return "0" + _star_middle(national, min(area, 3))
    return _star_middle(national, 3)


def _parse_stored_phone(e164: str) -> phonenumbers.PhoneNumber | None:
    # Masking and formatting run on display paths and legacy data: never raise there.
    try:
        return phonenumbers.parse(e164 or "", "CN")
    except phonenumbers.NumberParseException:
        return None


def _star_middle(digits: str, head: int) -> str:
    # Keep at most `head` leading and 4 trailing digits, and always hide at least four.
    tail = min(4, max(len(digits) - _MIN_HIDDEN, 0))
    head = max(0, min(head, len(digits) - tail - _MIN_HIDDEN))
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[len(digits) - tail :]


# ID numbers


def normalise_id_number(raw: str, id_type: str = "resident") -> str:
    """Return the canonical form of an ID number, used for storage and the blind index."""
    check = _ID_CHECKS.get(id_type)
    if check is None:
        raise IdentityError(_l("Unknown ID type."))
    value = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or "")).upper()
    if not value:
        raise IdentityError(_l("Please enter an ID number."))
    return check(value)


def try_normalise_id_number(raw: str, id_type: str = "resident") -> str | None:
    """Return the canonical ID number, or None while it is incomplete or wrong."""
    try:
        return normalise_id_number(raw, id_type)
    except IdentityError:
        return None


def id_number_problem(raw: str, id_type: str = "resident", finished: bool = False) -> str | None:
    """What is wrong with an ID number the desk is typing, or None (see phone_problem).

    While typing, a resident ID is judged at 18 characters, or earlier when a character or the
    region code (first two digits) already rules it out; the other types once the field is left.
    """
    value = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or "")).upper()
    if not value:
        return None
    if not finished and id_type == "resident" and len(value) < 18:
        return _resident_start_problem(value)
    if not (finished or id_type == "resident"):
        return None
    try:
        normalise_id_number(value, id_type)
    except IdentityError as err:
        return str(err.message)
    return None


def _resident_start_problem(value: str) -> str | None:
    """What rules out the first characters of a resident ID, whatever follows them."""
    if re.search(r"[^\dX]", value):
        return str(_l("An ID number may contain only digits and a final X."))
    if len(value) >= 2 and value[:2].isdigit() and int(value[:2]) not in _PROVINCES:
        return str(_l("The first two digits of this ID number are not a region code."))
    return None


def _resident(value: str) -> str:
    # GB 11643; also covers the HK/Macau/Taiwan residence permits (810000/820000/830000),
    # which stdnum's ric.validate refuses because their region is not in its birth-place table.
    if not re.fullmatch(r"\d*X?", value):
        raise IdentityError(_l("An ID number may contain only digits and a final X."))
    if len(value) == 15 and value.isdigit():
        raise IdentityError(_l("This is an old 15-digit ID number; please enter the 18-digit number."))
    if len(value) != 18:
        raise IdentityError(_l("An ID number has 18 characters; this one has %(count)d.", count=len(value)))
    if int(value[:2]) not in _PROVINCES:
        raise IdentityError(_l("The first two digits of this ID number are not a region code."))
    if resident_id_birth_date(value) is None:
        raise IdentityError(_l("The birth date in this ID number (digits 7 to 14) is not valid."))
    # calc_check_digit expects the full number and ignores its last character.
    if ric.calc_check_digit(value) != value[-1]:
        raise IdentityError(_l("The ID number's check digit does not match; please check each digit."))
    return value


def _passport(value: str) -> str:
    # Chinese passports are E/G/D/S/P + 8 characters; foreign ones vary, so check only the shape.
    if not re.fullmatch(r"[A-Z0-9]+", value):
        raise IdentityError(_l("A passport number may contain only letters and digits."))
    if not 5 <= len(value) <= 20:
        raise IdentityError(_l("A passport number has 5 to 20 letters and digits."))
    return value


def _hk_macau(value: str) -> str:
    # Ministry of Public Security rule (2010): H or M, an 8-digit lifetime number, then 2 digits
    # counting renewals. Only the first 9 characters survive a renewal, so the count is dropped
    # and the same person is found again whichever card they show.
    if not re.fullmatch(r"[HM]\d{8}(\d{2})?", value):
        raise IdentityError(
            _l("A Home Return Permit number is H or M followed by 8 digits (or 10 on older cards).")
        )
    return value[:9]


def _taiwan(value: str) -> str:
    # Since 2008 the number is the 8-digit lifetime number ("one person, one number"), and the
    # 2015 card keeps it. Older booklets appended a 2-digit issue count and sometimes an issuing
    # office in brackets, e.g. "1234567801(B)"; both change between booklets, so they are dropped.
    match = re.fullmatch(r"(\d{8})(\d{2}(\([A-Z0-9]\))?)?", value)
    if not match:
        raise IdentityError(_l("A Taiwan compatriot permit number has 8 digits (10 on older booklets)."))
    return match.group(1)


_ID_CHECKS = {
    "resident": _resident,
    "passport": _passport,
    "hk_macau": _hk_macau,
    "taiwan": _taiwan,
}


def resident_id_birth_date(value: str) -> datetime.date | None:
    """Return the birth date held in a normalised resident ID number, or None."""
    if not re.fullmatch(r"\d{17}[\dX]", value or ""):
        return None
    try:
        born = ric.get_birth_date(value)
    except ValueError:  # stdnum's InvalidComponent is a ValueError
        return None
    if born.year < 1900 or born > datetime.date.today():
        return None
    return born


# Masking for people who may not see the full value


def mask_name(name: str) -> str:
    """Keep the first character (the surname, or an initial) and star the rest."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(value: str, keep_head: bool = True) -> str:
    """Keep the first and last 4 characters of long numbers, first 1 and last 2 of short ones.

    Without `keep_head` (the office's stricter setting) only the last characters show.
    """
    value = (value or "").strip()
    if len(value) >= 15:
        head, tail = 4, 4
    elif len(value) >= 6:
        head, tail = 1, 2
    else:
        return "*" * len(value)
    head = head if keep_head else 0
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def phone_last4(normalised: str | None) -> str:
    """The 尾号 of a normalised phone: its last four digits (what a masked phone shows anyway)."""
    digits = "".join(ch for ch in normalised or "" if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""
