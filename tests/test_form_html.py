"""villa.form_html writes form attributes exactly as WTForms' own html_params does."""

import pytest
from markupsafe import Markup
from wtforms import Form, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from villa import form_html

CASES = [
    {"name": "phone", "id": "phone", "type": "tel", "value": "138 0013 8000"},
    {"required": True, "readonly": False, "autofocus": True},
    {"value": "<script>alert(\"x\")</script> & 'quote'"},
    {"data_hx_post": "/customers/1/fields/budget", "aria_describedby": "budget-error", "class_": "wide"},
    {"for_": "name", "hx-target": "#timeline"},
    {"value": Markup('already <b>safe</b> "quoted"')},
    {"value": 0, "min": 1.5, "maxlength": None},
    {"title": "王先生 · 意向 A"},
    {},
]


@pytest.mark.parametrize("attributes", CASES)
def test_same_output_as_wtforms(attributes):
    ours = form_html.html_params(**attributes)
    assert isinstance(ours, Markup)
    assert ours == form_html.wtforms_html_params(**attributes)


def test_rendered_fields_use_it_and_still_escape(app):
    class Probe(Form):
        note = TextAreaField("备注")
        name = StringField("姓名", render_kw={"placeholder": 'say "hi" <b>'})
        grade = SelectField("意向", choices=[SelectChoice("A", "A <高>"), SelectChoice("B", "B")])

    form = Probe(data={"note": "</textarea><script>", "name": '"><script>', "grade": "A"})
    assert form.name() == (
        '<input id="name" name="name" placeholder="say &#34;hi&#34; &lt;b&gt;" type="text" '
        'value="&#34;&gt;&lt;script&gt;">'
    )
    assert "&lt;/textarea&gt;&lt;script&gt;" in form.note()
    assert '<option selected value="A">A &lt;高&gt;</option>' in form.grade()
    assert form.name.label() == '<label for="name">姓名</label>'
    form_html.install()  # a second install changes nothing
    assert form.name() == (
        '<input id="name" name="name" placeholder="say &#34;hi&#34; &lt;b&gt;" type="text" '
        'value="&#34;&gt;&lt;script&gt;">'
    )
