"""The questions villa offices ask: asked at the desk, changed on the client page, filtered on the
list, kept in the Excel export and import, and their options edited by the admin."""

import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from villa import settings as office
from villa.importer import ImportOptions, run_import
from villa.models import AuditLog, Customer
from villa.questions import QUESTIONS

from .conftest import create_user
from .test_registration import form

ANSWERS = {
    "home_area": "朝阳区",
    "work_area": "国贸CBD",
    "occupation": "企业主",
    "family_structure": "三口之家",
    "purchase_count": "二次置业",
    "concerns": ["学区", "园林景观"],
    "objections": ["价格偏高"],
}
# A second answer for each, as the click-to-edit test changes it to.
CHANGED = {
    "home_area": "海淀区",
    "work_area": "中关村",
    "occupation": "退休",
    "family_structure": "三代同堂",
    "purchase_count": "三次及以上",
    "concerns": ["交通", "户型"],
    "objections": ["距离市区远", "首付压力"],
}


def stored(value) -> str:
    return "、".join(value) if isinstance(value, list) else value


@pytest.fixture
def english(login):
    def _login(user):
        session = login(user)
        session.get("/lang/en")
        return session

    return _login


# At the desk


def test_the_desk_asks_every_question_and_stores_the_answers(login_as):
    session = login_as("rep")
    page = session.get("/reception/register").get_data(as_text=True)
    assert 'data-testid="more-about"' in page
    for name in QUESTIONS:
        assert f'name="{name}"' in page
    response = session.post("/reception/register", form(**ANSWERS))
    assert response.status_code == 303, response.get_data(as_text=True)
    customer = Customer.get()
    for name, value in ANSWERS.items():
        assert getattr(customer, name) == stored(value)
    assert customer.concerns == "学区、园林景观"


def test_the_questions_may_stay_unasked(login_as):
    session = login_as("rep")
    assert session.post("/reception/register", form()).status_code == 303
    customer = Customer.get()
    assert all(getattr(customer, name) == "" for name in QUESTIONS)


def test_an_answer_not_on_the_list_is_refused_at_its_field_with_the_values_kept(login_as):
    session = login_as("rep")
    session.get("/lang/en")
    response = session.post("/reception/register", form(occupation="海盗", concerns=["学区", "看海"]))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-occupation"' in html and 'data-testid="error-concerns"' in html
    assert 'value="王建国"' in html  # what was typed stays
    assert Customer.select().count() == 0


# On the client page


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_each_question_is_changed_in_place_with_its_history(team, english, make_customer, name):
    manager, rep = team
    customer = make_customer(owner=rep, **{key: stored(value) for key, value in ANSWERS.items()})
    session = english(rep)
    page = session.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="edit-section-questions"' in page and f'data-testid="value-{name}"' in page
    edit = session.htmx_get(f"/customers/{customer.id}/fields/{name}/edit").get_data(as_text=True)
    assert f'name="{name}"' in edit
    response = session.post(f"/customers/{customer.id}/fields/{name}", {name: CHANGED[name]}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert stored(CHANGED[name]) in html
    assert getattr(Customer.get_by_id(customer.id), name) == stored(CHANGED[name])
    row = AuditLog.get(AuditLog.customer == customer.id, AuditLog.action == "field_changed")
    assert row.change_map == {name: [stored(ANSWERS[name]), stored(CHANGED[name])]}


@pytest.mark.parametrize("name", ["concerns", "objections"])
def test_several_answers_are_ticked_and_all_unticked(team, english, make_customer, name):
    customer = make_customer(owner=team[1])
    session = english(team[1])
    url = f"/customers/{customer.id}/fields/{name}"
    edit = session.htmx_get(url + "/edit").get_data(as_text=True)
    assert edit.count(f'name="{name}" type="checkbox"') >= 3
    assert session.post(url, {name: CHANGED[name]}, htmx=True).status_code == 200
    assert getattr(Customer.get_by_id(customer.id), name) == stored(CHANGED[name])
    assert session.post(url, {}, htmx=True).status_code == 200  # nothing ticked: the browser sends nothing
    assert getattr(Customer.get_by_id(customer.id), name) == ""


def test_an_answer_off_the_list_is_refused_on_the_client_page(team, english, make_customer):
    customer = make_customer(owner=team[1], occupation="企业主")
    session = english(team[1])
    response = session.post(f"/customers/{customer.id}/fields/occupation", {"occupation": "海盗"}, htmx=True)
    assert response.status_code == 422
    assert 'data-testid="error-occupation"' in response.get_data(as_text=True)
    assert Customer.get_by_id(customer.id).occupation == "企业主"


def test_the_answers_are_not_shown_to_another_rep(team, make_user, login, make_customer):
    customer = make_customer(owner=team[1], occupation="企业主", concerns="学区、交通")
    page = login(make_user("rep")).get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="section-questions"' not in page
    assert "企业主" not in page and "学区、交通" not in page


# The options, in the settings


def test_the_admin_edits_the_options_and_the_desk_offers_them(login_as):
    admin = login_as("admin")
    page = admin.get("/admin/settings/questions").get_data(as_text=True)
    assert 'data-testid="settings-questions"' in page and "三口之家" in page
    lines = "首次置业\n二次置业\n三次置业\n四次及以上"
    response = admin.post("/admin/settings/questions", _question_settings(options_purchase_count=lines))
    assert response.status_code == 303
    assert office.read("options_purchase_count") == lines.splitlines()
    row = AuditLog.get(AuditLog.target == "setting:options_purchase_count")
    assert row.change_map["options_purchase_count"][1] == lines.splitlines()
    rep = login_as("rep")
    assert "四次及以上" in rep.get("/reception/register").get_data(as_text=True)
    assert rep.post("/reception/register", form(purchase_count="四次及以上")).status_code == 303
    assert Customer.get().purchase_count == "四次及以上"
    assert "四次及以上" in rep.get("/customers/").get_data(as_text=True)  # the list's filter offers it


@pytest.mark.parametrize(
    "lines,message",
    [
        ("学区、交通\n价格", "may not contain"),
        ("", "Write 1 to 50 lines"),
        ("学区\n学区", "Each option once"),
    ],
)
def test_refused_options_are_422_at_the_field_and_save_nothing(login_as, lines, message):
    admin = login_as("admin")
    admin.get("/lang/en")
    response = admin.post("/admin/settings/questions", _question_settings(options_concerns=lines))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'data-testid="error-options_concerns"' in html
    assert office.read("options_concerns") == office.DEFAULTS["options_concerns"]
    assert not AuditLog.select().where(AuditLog.action == "setting_changed").exists()


def _question_settings(**changes) -> dict:
    values = {key: "\n".join(office.read(key)) for key, _label in QUESTIONS.values()}
    return {**values, **changes}


# The list's filters


@pytest.fixture
def listed(team, make_user, make_customer):
    _, rep = team
    other = make_user("rep", manager=make_user("manager"))  # another team
    return {
        "school": make_customer(
            owner=rep, name="学区甲", occupation="企业主", concerns="学区、交通", grade="A"
        ),
        "school_b": make_customer(
            owner=rep, name="学区乙", occupation="退休", concerns="交通、学区", grade="B"
        ),
        "near": make_customer(owner=rep, name="近似丙", occupation="企业主", concerns="学区房"),
        "none": make_customer(owner=rep, name="空白丁"),
        "theirs": make_customer(owner=other, name="别人戊", occupation="企业主", concerns="学区"),
    }


def _names(session, query: str) -> set:
    html = session.get(f"/customers/?{query}").get_data(as_text=True)
    return {name for name in ("学区甲", "学区乙", "近似丙", "空白丁", "别人戊", "别*") if name in html}


def test_filter_by_one_answer(team, login, listed):
    session = login(team[1])
    assert _names(session, "occupation=企业主") == {"学区甲", "近似丙"}
    assert _names(session, "concerns=学区") == {"学区甲", "学区乙"}  # one of several; not 学区房
    assert _names(session, "concerns=学区&occupation=退休") == {"学区乙"}
    assert _names(session, "concerns=学区&grade=A") == {"学区甲"}  # with the list's own filters
    assert _names(session, "grade=B") == {"学区乙"}
    assert _names(session, "concerns=100%25") == set()  # a LIKE wildcard matches itself only


def test_a_filter_finds_nothing_behind_a_masked_name(team, login, listed):
    """Another rep's customer with the same answer is not found: the filter would tell the answer."""
    session = login(team[1])
    # Another rep's customers are not on a rep's list at all, and the owner filter is not theirs.
    assert "别" not in "".join(_names(session, "owner=" + str(listed["theirs"].owner_id)))
    assert _names(session, f"owner={listed['theirs'].owner_id}&occupation=企业主") == {"学区甲", "近似丙"}
    assert _names(session, "occupation=企业主") == {"学区甲", "近似丙"}


def test_the_manager_filters_the_team_and_exports_the_answers(team, login, listed):
    session = login(team[0])
    assert _names(session, "concerns=学区") == {"学区甲", "学区乙"}
    book = load_workbook(io.BytesIO(session.get("/customers/export.xlsx?concerns=学区").data))
    rows = list(book.active.iter_rows(values_only=True))
    header = rows[4]
    for title in ("居住区域", "工作区域", "职业", "家庭结构", "置业次数", "关注点", "抗性点"):
        assert title in header
    by_id = {row[0]: dict(zip(header, row, strict=False)) for row in rows[5:]}
    assert set(by_id) == {listed["school"].id, listed["school_b"].id}
    assert by_id[listed["school"].id]["关注点"] == "学区、交通"
    assert by_id[listed["school"].id]["职业"] == "企业主"


# The legacy import


def test_the_import_reads_the_question_columns(app):
    rep = create_user("rep", username="rep_li", display_name="李娜")
    admin = create_user("admin", username="root")
    book = Workbook()
    sheet = book.active
    sheet.append(["登记日期", "姓名", "手机号", "渠道", "置业顾问", "职业", "居住区域", "关注点", "抗性点"])
    sheet.append([datetime(2025, 3, 1), "王先生", "13912340001", "自然到访", "李娜", "企业主", "西山",
                  "学区，交通; 户型", "价格偏高"])  # fmt: skip
    raw = io.BytesIO()
    book.save(raw)
    with app.app_context():
        run, _report = run_import(raw.getvalue(), "old.xlsx", admin, ImportOptions(), apply=True)
    assert run.imported == 1
    customer = Customer.get()
    assert customer.owner_id == rep.id
    assert (customer.occupation, customer.home_area) == ("企业主", "西山")  # kept as written, like a band
    assert (customer.concerns, customer.objections) == ("学区、交通、户型", "价格偏高")
