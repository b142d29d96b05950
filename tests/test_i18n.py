"""The Simplified Chinese catalog covers every string in the code, and its .mo is current.

Extraction mirrors `make i18n`: `pybabel extract -F babel.cfg -k _l .` from the repo root.
"""

import gettext
import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
LOCALE = "zh_Hans"
LC_MESSAGES = ROOT / "villa" / "translations" / LOCALE / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "messages.po"
MO_PATH = LC_MESSAGES / "messages.mo"

# `%(name)s`, `%(count)d`, `%(price).2f` …
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +\-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _as_tuple(value):
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


@pytest.fixture(scope="module")
def catalog():
    with PO_PATH.open("rb") as f:
        return read_po(f, locale=LOCALE)


@pytest.fixture(scope="module")
def extracted():
    """(msgid, context) -> first "file:line" where the code uses it, as `make i18n` finds them."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    keywords = DEFAULT_KEYWORDS.copy()
    keywords.update(parse_keywords(["_l"]))
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords
    ):
        msgid = _as_tuple(message)[0]
        if msgid:
            found.setdefault((msgid, context), f"{filename}:{lineno}")
    assert found, "no messages extracted: is babel.cfg still pointing at the sources?"
    return found


def test_header_declares_chinese_plural_rule(catalog):
    assert str(catalog.locale) == LOCALE
    assert catalog.num_plurals == 1
    assert catalog.plural_expr == "0"


def test_every_source_string_is_translated(catalog, extracted):
    missing = []
    for (msgid, context), where in sorted(extracted.items()):
        message = catalog.get(msgid, context=context)
        strings = _as_tuple(message.string) if message else ()
        if message is None or message.fuzzy or not strings or not all(s.strip() for s in strings):
            missing.append(f"  {msgid!r}  ({where})")
    assert not missing, (
        f"{len(missing)} string(s) have no (or only a fuzzy) {LOCALE} translation; "
        "run `make i18n` and translate them:\n" + "\n".join(missing)
    )


def test_no_fuzzy_entries(catalog):
    fuzzy = [repr(m.id) for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, "fuzzy entries are not compiled; review them and drop `#, fuzzy`:\n" + "\n".join(fuzzy)


def test_translations_keep_placeholders(catalog):
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        expected = set().union(*(PLACEHOLDER.findall(s) for s in _as_tuple(message.id)))
        for translated in _as_tuple(message.string):
            if translated and set(PLACEHOLDER.findall(translated)) != expected:
                wrong.append(f"  {message.id!r} -> {translated!r}")
    assert not wrong, "translations must keep exactly the msgid's %(name)x placeholders:\n" + "\n".join(wrong)


def _messages(translations: gettext.GNUTranslations) -> dict:
    # The "" entry is the header; it carries dates and the Babel version, not messages.
    return {k: v for k, v in translations._catalog.items() if k != ""}


def test_committed_mo_is_up_to_date(catalog):
    assert MO_PATH.exists(), "messages.mo is stale: run `make i18n`"
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    fresh = gettext.GNUTranslations(buffer)
    with MO_PATH.open("rb") as f:
        committed = Translations(f)
    assert _messages(committed) == _messages(fresh), "messages.mo is stale: run `make i18n`"
    assert committed.plural(1) == fresh.plural(1) and committed.plural(5) == fresh.plural(5), (
        "messages.mo is stale: run `make i18n`"
    )


def test_a_request_translates_in_its_language_and_force_locale_switches_it(app):
    """villa.i18n keeps one catalogue per request: force_locale must still switch it, and back."""
    from flask import session

    from villa.i18n import force_locale, gettext, lazy_gettext

    label = lazy_gettext("Edit")
    with app.test_request_context("/"):
        assert gettext("Edit") == "编辑" and str(label) == "编辑"
        with force_locale("en"):
            assert gettext("Edit") == "Edit" and str(label) == "Edit"
        assert gettext("Edit") == "编辑"
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert gettext("Edit") == "Edit"
        assert app.jinja_env.from_string("{{ _('Edit') }}").render() == "Edit"


def test_templates_translate_escape_values_and_format_as_jinja_newstyle_does(app):
    """Templates call villa.i18n's gettext directly: translated, values escaped, %% always a %."""
    render = lambda source, **values: app.jinja_env.from_string(source).render(**values)  # noqa: E731
    with app.test_request_context("/"):
        assert render("{{ _('first registered %(day)s', day=day) }}", day="<b>") == "首次登记于&lt;b&gt;"
        assert render("{{ gettext('Already a customer:') }}") == "已是登记客户："
        assert render("{{ _('100%% sure') }}") == "100% sure"  # no variables, still formatted
        many = "{{ ngettext('%(num)d customer to anonymise', '%(num)d customers to anonymise', n) }}"
        assert render(many, n=3) == "待匿名化客户3位"
        assert render("{% trans day=day %}first registered {{ day }}{% endtrans %}", day="<i>") == (
            "首次登记于&lt;i&gt;"
        )
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = "en"
        assert render(many, n=1) == "1 customer to anonymise"
