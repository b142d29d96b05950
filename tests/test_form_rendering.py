"""Form fields as the browser gets them: attributes written in order and every value escaped."""

from wtforms import Form, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice


def test_rendered_fields_escape_what_was_typed(app):
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
