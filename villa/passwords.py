"""How hard a new password is to guess, as zxcvbn estimates it, for someone who knows the office.

Long is not enough: `aaaaaaaaaaaa` and `xiaoshou2026` have 12 characters and fall to the first
guesses. zxcvbn scores a password from 0 to 4 by the guesses it would take, counting as known
words the user's own names and what an attacker knows about a villa sales office.
"""

from villa.i18n import LazyText
from villa.i18n import lazy_gettext as _l

MIN_SCORE = 3  # zxcvbn: 3 is "safely unguessable" (about 10^8 guesses and more)
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide
# The office's words, in characters and in pinyin: the project, the trade, the roles.
OFFICE_WORDS = (
    "villa", "别墅", "bieshu", "售楼处", "shoulouchu", "销售", "xiaoshou", "客户", "kehu",
    "房产", "fangchan", "楼王", "louwang", "案场", "anchang", "楼盘", "loupan", "置业顾问",
    "zhiyeguwen", "zhiye", "guwen", "经理", "jingli", "前台", "qiantai", "审核", "shenhe",
    "登记", "dengji", "户型", "huxing", "样板房", "yangbanfang", "房子", "fangzi", "买房",
    "maifang", "购房", "goufang", "密码", "mima", "woaini", "zhongguo", "admin", "manager",
    "sales", "reception", "auditor",
)  # fmt: skip

# zxcvbn's advice, in the office's languages: its own text (English) -> ours.
FEEDBACK = {
    text.msgid: text
    for text in (
        _l("Use a few words, avoid common phrases."),
        _l("No need for symbols, digits, or uppercase letters."),
        _l("Add another word or two. Uncommon words are better."),
        _l("Straight rows of keys are easy to guess."),
        _l("Short keyboard patterns are easy to guess."),
        _l("Use a longer keyboard pattern with more turns."),
        _l('Repeats like "aaa" are easy to guess.'),
        _l('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
        _l("Avoid repeated words and characters."),
        _l('Sequences like "abc" or "6543" are easy to guess.'),
        _l("Avoid sequences."),
        _l("Recent years are easy to guess."),
        _l("Avoid recent years."),
        _l("Avoid years that are associated with you."),
        _l("Dates are often easy to guess."),
        _l("Avoid dates and years that are associated with you."),
        _l("This is a top-10 common password."),
        _l("This is a top-100 common password."),
        _l("This is a very common password."),
        _l("This is similar to a commonly used password."),
        _l("A word by itself is easy to guess."),
        _l("Names and surnames by themselves are easy to guess."),
        _l("Common names and surnames are easy to guess."),
        _l("Capitalization doesn't help very much."),
        _l("All-uppercase is almost as easy to guess as all-lowercase."),
        _l("Reversed words aren't much harder to guess."),
        _l("Predictable substitutions like '@' instead of 'a' don't help very much."),
    )
}
OWN_WORDS = _l("Names, usernames and the sales office's words (villa, xiaoshou, kehu …) are guessed first.")
GENERIC = FEEDBACK["Add another word or two. Uncommon words are better."]


def weakness(password: str, known_words=()) -> LazyText | None:
    """Why this password is easy to guess (with zxcvbn's advice), or None when it is not."""
    from zxcvbn import zxcvbn  # 70 ms of dictionaries, loaded only where a password is set

    words = [word for word in (*known_words, *OFFICE_WORDS) if word]
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return None
    return _l(
        "This password is too easy to guess: %(advice)s "
        "Three or four unrelated words are easy to remember and hard to guess.",
        advice=_advice(result),
    )


def _advice(result: dict) -> LazyText:
    """The most useful hint: what zxcvbn saw (a repeat, a common password, one of the known
    words), else its first suggestion."""
    feedback = result["feedback"]
    if feedback["warning"] in FEEDBACK:
        return FEEDBACK[feedback["warning"]]
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        return OWN_WORDS
    for text in feedback["suggestions"]:
        if text in FEEDBACK and FEEDBACK[text] is not GENERIC:
            return FEEDBACK[text]
    return GENERIC
