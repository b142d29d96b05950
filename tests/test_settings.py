"""Office settings and source channels: typed values, checks at the field, audit rows, access."""

import pytest

from villa import settings as office
from villa.models import ROLES, AuditLog, Channel, Customer, Setting


@pytest.fixture
def admin(login_as):
    session = login_as("admin")
    session.get("/lang/en")
    return session


def audit(action="setting_changed"):
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


OWNERSHIP = {"protection_days_visit": "20", "protection_days_call": "5", "pool_quota": "30"}
ELIGIBILITY = {"local_max_homes_owned": "2", "nonlocal_min_months": "36", "nonlocal_max_homes_owned": "1"}
REJECTION = "{name}您好，登记信息需补充：{reason}。"
APPROVAL = "{name}您好，登记已审核通过。"
MESSAGES = {"rejection": REJECTION, "approval": APPROVAL, "notify_on_approval": "y"}
NEW_NOTICE = "本售楼处仅为置业服务使用您的信息。"
BACKUPS = {
    "backups_daily": "7",
    "backups_weekly": "4",
    "backups_monthly": "24",
    "backup_copy_dir": "",
    "backup_age_limit_hours": "30",
    "restore_test_weekday": "2",
}
NOTICE = "{name}您好，您的登记信息可能被他人查看，我们深表歉意。"

# section, posted fields, {key: the typed value read back}
VALID = [
    ("ownership", OWNERSHIP, {"protection_days_visit": 20, "protection_days_call": 5, "pool_quota": 30}),
    (
        "eligibility",
        ELIGIBILITY,
        {
            "eligibility_rules": {
                "local_max_homes_owned": 2,
                "nonlocal_min_months": 36,
                "nonlocal_max_homes_owned": 1,
            }
        },
    ),
    (
        "reasons",
        {
            "rejection_reasons": " 电话空号 ｜ 请更新您的电话 \n\n姓名有误\n",
            "rejection_customer_default": "请来电",
        },
        {
            "rejection_reasons": ["电话空号", "姓名有误"],
            "rejection_customer_texts": {"电话空号": "请更新您的电话"},
            "rejection_customer_default": "请来电",
        },
    ),
    ("checklist", {"review_checklist": "电话一致\n渠道一致"}, {"review_checklist": ["电话一致", "渠道一致"]}),
    (
        "messages",
        MESSAGES,
        {"message_templates": {"rejection": REJECTION, "approval": APPROVAL}, "notify_on_approval": True},
    ),
    (
        "privacy",
        {"privacy_notice_text": NEW_NOTICE, "privacy_notice_version": "2027-01"},
        {"privacy_notice_text": NEW_NOTICE, "privacy_notice_version": "2027-01"},
    ),
    ("corrections", {"correction_link_hours": "72"}, {"correction_link_hours": 72}),
    ("keeping", {"retention_years": "5"}, {"retention_years": 5}),
    (
        "backups",
        BACKUPS,
        {
            "backups_daily": 7,
            "backups_weekly": 4,
            "backups_monthly": 24,
            "backup_age_limit_hours": 30,
            "restore_test_weekday": 2,
        },
    ),
    ("incidents", {"incident_message_template": NOTICE}, {"incident_message_template": NOTICE}),
]


@pytest.mark.parametrize("section,fields,expected", VALID, ids=[v[0] for v in VALID])
def test_a_valid_section_saves_typed_values_with_an_audit_row(admin, section, fields, expected):
    before = {key: office.read(key) for key in expected}
    response = admin.post(f"/admin/settings/{section}", fields)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/settings/{section}"
    for key, value in expected.items():
        assert Setting.read(key) == value
        assert office.read(key) == value
    rows = audit()
    assert {row.target for row in rows} == {f"setting:{key}" for key in expected}
    for row in rows:
        key = row.target.removeprefix("setting:")
        assert row.change_map == {key: [before[key], expected[key]]}
        assert row.actor_id == admin.user.id
    page = admin.get(f"/admin/settings/{section}").get_data(as_text=True)
    assert f'data-testid="settings-{section}"' in page and 'class="flashes"' in page


def test_saving_unchanged_values_writes_no_audit_row(admin):
    current = {"retention_years": str(office.read("retention_years"))}
    assert admin.post("/admin/settings/keeping", current).status_code == 303
    assert audit() == []


def test_unchecking_notify_on_approval_saves_false(admin):
    Setting.write("notify_on_approval", True)
    fields = {k: v for k, v in MESSAGES.items() if k != "notify_on_approval"}
    assert admin.post("/admin/settings/messages", fields).status_code == 303
    assert Setting.read("notify_on_approval") is False


INVALID = [
    ("ownership", {**OWNERSHIP, "protection_days_visit": "0"}, "protection_days_visit", "from 1 to 90"),
    ("ownership", {**OWNERSHIP, "protection_days_call": "91"}, "protection_days_call", "from 1 to 90"),
    ("ownership", {**OWNERSHIP, "pool_quota": "501"}, "pool_quota", "from 0 to 500"),
    ("ownership", {**OWNERSHIP, "pool_quota": "many"}, "pool_quota", "integer"),
    ("eligibility", {**ELIGIBILITY, "nonlocal_min_months": "-1"}, "nonlocal_min_months", "from 0 to 240"),
    ("reasons", {"rejection_reasons": "\n  \n"}, "rejection_reasons", "1 to 30 lines"),
    (
        "reasons",
        {"rejection_reasons": "\n".join(f"原因{n}" for n in range(31))},
        "rejection_reasons",
        "1 to 30",
    ),
    ("reasons", {"rejection_reasons": "好\n" + "长" * 101}, "rejection_reasons", "at most 100 characters"),
    (
        "reasons",
        {"rejection_reasons": "疑似重复登记 | 您疑似重复登记", "rejection_customer_default": "请来电"},
        "rejection_reasons",
        "must not repeat the internal reason",
    ),
    (
        "reasons",
        {"rejection_reasons": "电话空号 | 请更新电话\n姓名有误 | 姓名有误，请核对"},
        "rejection_reasons",
        "must not repeat",
    ),
    (
        "reasons",
        {"rejection_reasons": "电话空号", "rejection_customer_default": "您的电话空号"},
        "rejection_customer_default",
        "must not repeat an internal reason",
    ),
    (
        "reasons",
        {"rejection_reasons": "电话空号", "rejection_customer_default": ""},
        "rejection_customer_default",
        "empty",
    ),
    ("checklist", {"review_checklist": ""}, "review_checklist", "1 to 30 lines"),
    ("messages", {**MESSAGES, "rejection": "{name}您好，请补充信息。"}, "rejection", "must contain {reason}"),
    (
        "messages",
        {**MESSAGES, "rejection": "{name}{phone}：{reason}"},
        "rejection",
        "Unknown placeholder {phone}",
    ),
    ("messages", {**MESSAGES, "approval": "{name}您好 {reason}"}, "approval", "remove {reason}"),
    ("messages", {**MESSAGES, "approval": "{name}您好 {"}, "approval", "Braces are only for"),
    ("messages", {**MESSAGES, "approval": "{name}" + "好" * 138}, "approval", "At most 140 characters"),
    ("messages", {**MESSAGES, "rejection": "{reason}" + "好" * 141}, "rejection", "At most 140"),
    ("messages", {**MESSAGES, "approval": "  "}, "approval", "cannot be empty"),
    (
        "privacy",
        {"privacy_notice_text": NEW_NOTICE, "privacy_notice_version": "2026-11"},
        "privacy_notice_version",
        "give it a new version",
    ),
    (
        "privacy",
        {"privacy_notice_text": NEW_NOTICE, "privacy_notice_version": "v 2"},
        "privacy_notice_version",
        "letters, digits",
    ),
    (
        "privacy",
        {"privacy_notice_text": "", "privacy_notice_version": "2027-01"},
        "privacy_notice_text",
        "empty",
    ),
    ("corrections", {"correction_link_hours": "721"}, "correction_link_hours", "from 1 to 720"),
    ("keeping", {"retention_years": "0"}, "retention_years", "from 1 to 30"),
    ("backups", {**BACKUPS, "backups_daily": "366"}, "backups_daily", "from 1 to 365"),
    ("backups", {**BACKUPS, "backups_weekly": "-1"}, "backups_weekly", "from 0 to 260"),
    ("backups", {**BACKUPS, "backup_age_limit_hours": "0"}, "backup_age_limit_hours", "from 1 to 720"),
    ("backups", {**BACKUPS, "backup_copy_dir": "nas/backups"}, "backup_copy_dir", "starting with /"),
    ("backups", {**BACKUPS, "backup_copy_dir": "/no/such/villa/folder"}, "backup_copy_dir", "Is the NAS"),
    ("backups", {**BACKUPS, "restore_test_weekday": "7"}, "restore_test_weekday", "Not a valid choice"),
    ("incidents", {"incident_message_template": "{name}{phone}"}, "incident_message_template", "for {name}"),
    (
        "incidents",
        {"incident_message_template": "{name}" + "歉" * 278},
        "incident_message_template",
        "At most 280 characters",
    ),
]


@pytest.mark.parametrize("section,fields,field,message", INVALID)
def test_an_invalid_section_is_422_at_the_field_and_saves_nothing(admin, section, fields, field, message):
    stored = {row.key: row.value for row in Setting.select()}
    response = admin.post(f"/admin/settings/{section}", fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html
    assert message in html
    assert {row.key: row.value for row in Setting.select()} == stored, (
        "nothing saved, not even the valid fields"
    )
    assert audit() == []


def test_a_template_within_140_characters_with_a_name_is_accepted(admin):
    fields = {**MESSAGES, "approval": "{name}" + "好" * 137}
    assert admin.post("/admin/settings/messages", fields).status_code == 303


def test_a_refused_section_keeps_what_was_typed_and_shows_only_itself(admin):
    typed = {**OWNERSHIP, "protection_days_visit": "33", "pool_quota": "-1"}
    response = admin.post("/admin/settings/ownership", typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="33"' in html and 'value="-1"' in html, "the refused form keeps what was typed"
    assert 'data-testid="error-pool_quota"' in html
    assert 'data-testid="error-protection_days_visit"' not in html
    assert 'data-testid="settings-ownership"' in html and 'data-testid="settings-keeping"' not in html
    assert 'data-testid="nav-keeping"' in html  # the other sections one tap away
    assert office.read("protection_days_visit") == 15


def test_settings_are_one_section_a_page_each_with_its_save(admin):
    overview = admin.get("/admin/settings").get_data(as_text=True)
    for section in ("ownership", "protection", "keeping", "email", "wecom"):
        assert f'href="/admin/settings/{section}"' in overview
    assert 'href="/admin/settings/channels"' in overview and "<form" not in overview.split("<main", 1)[-1]
    page = admin.get("/admin/settings/keeping").get_data(as_text=True)
    assert page.split("<main", 1)[-1].count('type="submit"') == 1 and 'data-testid="save-keeping"' in page
    assert 'aria-current="page" data-testid="nav-keeping"' in page


def test_saving_a_section_changes_only_its_own_values(admin):
    Setting.write("retention_years", 21)
    stored = {row.key: row.value for row in Setting.select()}
    fields = {"protection_days_visit": "30", "protection_days_call": "7", "pool_quota": "20"}  # one changed
    assert admin.post("/admin/settings/ownership", fields).status_code == 303
    after = {row.key: row.value for row in Setting.select()}
    changed = {key for key in after if after[key] != stored.get(key)}
    assert changed == {"protection_days_visit"}
    assert office.read("retention_years") == 21 and office.read("protection_days_visit") == 30


def test_privacy_notice_reads_its_default_until_saved(app):
    assert Setting.read("privacy_notice_text") is None
    assert office.read("privacy_notice_text") == office.PRIVACY_NOTICE_TEXT
    assert "同意" in office.PRIVACY_NOTICE_TEXT


def test_a_new_version_alone_is_accepted(admin):
    fields = {"privacy_notice_text": office.PRIVACY_NOTICE_TEXT, "privacy_notice_version": "2027-02"}
    assert admin.post("/admin/settings/privacy", fields).status_code == 303
    assert Setting.read("privacy_notice_version") == "2027-02"
    assert [row.target for row in audit()] == ["setting:privacy_notice_version"]


def test_a_malformed_stored_value_reads_as_the_default(app):
    Setting.write("pool_quota", "lots")
    Setting.write("protection_days_visit", 0)
    assert office.read("pool_quota") == 20
    assert office.read("protection_days_visit") == 15


def test_an_unknown_section_is_404(admin):
    assert admin.post("/admin/settings/key_check", {"key_check": "x"}).status_code == 404


# Channels.


def add(session, **changes):
    fields = {"code": "douyin", "name": "抖音直播", "kind": "online", "protection_days": ""}
    fields.update(changes)
    return session.post("/admin/settings/channels", fields)


def test_admin_adds_a_channel_the_desk_can_choose(admin, login_as):
    response = add(admin, protection_days="10")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/settings/channels"
    channel = Channel.get(Channel.code == "douyin")
    assert (channel.name, channel.kind, channel.protection_days, channel.active) == (
        "抖音直播",
        "online",
        10,
        True,
    )
    entry = audit("channel_added")[-1]
    assert entry.target == f"channel:{channel.id}" and entry.change_map["code"] == "douyin"
    assert 'value="douyin"' in login_as("reception").get("/reception/register").get_data(as_text=True)
    assert add(admin, code="douyin2").status_code == 303
    assert Channel.get(Channel.code == "douyin2").protection_days is None


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"code": "walk_in"}, "code", "taken"),
        ({"code": "Douyin"}, "code", "lower-case"),
        ({"code": "dou-yin"}, "code", "lower-case"),
        ({"name": ""}, "name", "name"),
        ({"kind": "tv"}, "kind", "Not a valid choice"),
        ({"protection_days": "0"}, "protection_days", "from 1 to 90"),
        ({"protection_days": "91"}, "protection_days", "from 1 to 90"),
    ],
)
def test_a_refused_channel_is_422(admin, changes, field, message):
    before = Channel.select().count()
    response = add(admin, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in html and message in html
    assert Channel.select().count() == before
    assert audit("channel_added") == []


def test_edit_keeps_the_code(admin):
    channel = Channel.get(Channel.code == "broker")
    page = admin.get(f"/admin/settings/channels/{channel.id}").get_data(as_text=True)
    assert 'value="中介渠道"' in page
    fields = {"name": "中介分销", "kind": "broker", "protection_days": "30", "code": "agency"}
    response = admin.post(f"/admin/settings/channels/{channel.id}", fields)
    assert response.status_code == 303
    changed = Channel.get_by_id(channel.id)
    assert (changed.code, changed.name, changed.protection_days) == ("broker", "中介分销", 30)
    assert audit("channel_changed")[-1].change_map == {
        "name": ["中介渠道", "中介分销"],
        "protection_days": [None, 30],
    }
    bad = admin.post(f"/admin/settings/channels/{channel.id}", {**fields, "protection_days": "100"})
    assert bad.status_code == 422 and Channel.get_by_id(channel.id).protection_days == 30


def test_deactivate_keeps_the_channel_on_customers_but_not_on_the_form(admin, login_as, make_customer):
    customer = make_customer(channel="offline_event")
    channel = Channel.get(Channel.code == "offline_event")
    response = admin.post(f"/admin/settings/channels/{channel.id}/deactivate")
    assert response.status_code == 303
    assert Channel.get_by_id(channel.id).active is False
    assert Customer.get_by_id(customer.id).channel_id == channel.id
    desk = login_as("reception").get("/reception/register").get_data(as_text=True)
    assert 'value="offline_event"' not in desk and 'value="walk_in"' in desk
    assert audit("channel_deactivated")[-1].target == f"channel:{channel.id}"
    listed = admin.get("/admin/settings/channels").get_data(as_text=True)
    assert 'data-testid="channel-offline_event"' in listed

    assert admin.post(f"/admin/settings/channels/{channel.id}/reactivate").status_code == 303
    assert Channel.get_by_id(channel.id).active is True
    assert 'value="offline_event"' in login_as("reception").get("/reception/register").get_data(as_text=True)


def test_unknown_channel_is_404(admin):
    assert admin.get("/admin/settings/channels/999999").status_code == 404
    assert admin.post("/admin/settings/channels/999999/deactivate").status_code == 404


SETTINGS_ROUTES = [
    ("get", "/admin/settings"),
    *[("post", f"/admin/settings/{section}") for section, _, _ in VALID],
    ("get", "/admin/settings/channels"),
    ("post", "/admin/settings/channels"),
    ("get", "/admin/settings/channels/{channel}"),
    ("post", "/admin/settings/channels/{channel}"),
    ("post", "/admin/settings/channels/{channel}/deactivate"),
    ("post", "/admin/settings/channels/{channel}/reactivate"),
]
POSTED = {**OWNERSHIP, **ELIGIBILITY, "code": "x1", "name": "x", "kind": "online", "retention_years": "9"}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
@pytest.mark.parametrize("method,path", SETTINGS_ROUTES)
def test_only_admins_change_settings(login_as, role, method, path):
    channel = Channel.get(Channel.code == "walk_in")
    session = login_as(role)
    url = path.format(channel=channel.id)
    response = session.get(url) if method == "get" else session.post(url, POSTED)
    assert response.status_code == 403
    # Nothing changed; a broker's account trying a staff page is logged as such (villa.auth).
    assert AuditLog.select().where(AuditLog.action.not_in(("login", "broker_page_refused"))).count() == 0
    assert Setting.read("protection_days_visit") == 15 and Channel.get_by_id(channel.id).active


def test_the_reasons_show_with_their_texts_for_the_customer(admin):
    html = admin.get("/admin/settings/reasons").get_data(as_text=True)
    assert "疑似重复登记 | 请与您的置业顾问核对登记信息" in html
    assert 'value="请联系您的置业顾问"' in html


def test_a_request_reads_the_settings_it_writes(app):
    """Within a request every setting is read once, at the first read; what the request writes or
    removes is read back as written, and the next request sees another's writes."""
    from villa.models import Setting

    Setting.write("greeting", "早")
    with app.test_request_context("/"):
        app.preprocess_request()
        assert Setting.read("greeting") == "早"
        Setting.write("greeting", "午")
        assert Setting.read("greeting") == "午"
        Setting.remove("greeting")
        assert Setting.read("greeting", "none") == "none"
        app.do_teardown_request()
    Setting.write("greeting", "晚")  # as a command would, outside any request
    assert Setting.read("greeting") == "晚"
