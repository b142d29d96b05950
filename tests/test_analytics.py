"""Analytics and scorecards on a small seeded office whose every figure was worked out by hand.

The period is March 2026 (office dates, both ends included). Timestamps are stored in UTC: office
midnight of 1 March is 16:00 UTC on 28 February.
"""

import json
import re
from datetime import date, datetime, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests import live_figures
from villa import analytics, scorecard
from villa.followups import refresh_followup_times
from villa.models import (
    AccessLog,
    AuditLog,
    Channel,
    Customer,
    Deal,
    Dispute,
    FollowUp,
    Review,
    Visit,
)
from villa.review import COMPLETENESS

MARCH = "preset=custom&from=2026-03-01&to=2026-03-31"
PERIOD = analytics.Period(date(2026, 3, 1), date(2026, 3, 31))


def office(month, day, hour=10, minute=0, second=0):
    """An office (UTC+8) wall-clock time in 2026 as the naive UTC timestamp the database stores."""
    return datetime(2026, month, day, hour, minute, second) - timedelta(hours=8)


@pytest.fixture
def office_data(make_user, make_customer):
    """Two teams, one unmanaged rep, and the month's customers, reviews, follow-ups and disputes."""
    m1, m2 = make_user("manager", display_name="经理一"), make_user("manager", display_name="经理二")
    r1 = make_user("rep", manager=m1, display_name="甲")
    r2 = make_user("rep", manager=m1, display_name="乙")
    r3 = make_user("rep", manager=m2, display_name="丙")
    r4 = make_user("rep", display_name="丁")  # no manager: every manager sees them
    desk = make_user("reception")

    def customer(owner, by, channel, visit_type, at, stage="registered", grade="C", **fields):
        return make_customer(
            owner=owner,
            registered_by=by,
            channel=channel,
            visit_type=visit_type,
            registered_at=at,
            stage=stage,
            grade=grade,
            **fields,
        )

    full = dict(
        gender="M",
        age_band="30-39",
        unit_type="四房",
        area_band="200-300",
        budget="800万",
        purpose="own_use",
        hukou_local=True,
        homes_owned=0,
    )
    c = {
        # Edges: 23:59 office time on 28 Feb is out, 00:00 on 1 Mar in; 23:59 on 31 Mar in,
        # 00:00 on 1 Apr out.
        "c0": customer(r1, r1, "walk_in", "visit", office(2, 28, 23, 59), "signed", "A"),
        "c1": customer(r1, r1, "walk_in", "visit", office(3, 1, 0, 0), "signed", "A", **full),
        "c2": customer(r1, r1, "online_ad", "call", office(3, 3, 10), "visited", "B", budget="500万"),
        "c3": customer(r1, r1, "online_ad", "call", office(3, 31, 23, 59), gender="F", hukou_local=False),
        "c4": customer(r1, r1, "walk_in", "visit", office(4, 1, 0, 0), "signed", "A"),
        "c5": customer(r2, desk, "walk_in", "visit", office(3, 5, 11), "lost"),
        "c6": customer(r2, r2, "referral", "call", office(3, 10, 9), "lost"),
        "c7": customer(r2, r2, "referral", "visit", office(3, 10, 15), "lost"),
        "c8": customer(r2, r2, "walk_in", "visit", office(3, 12, 9), "subscribed", "B+"),
        "c9": customer(r3, desk, "online_ad", "call", office(3, 15, 9), "pledged", "D"),
        "pool1": customer(None, desk, "walk_in", "call", office(1, 5), in_public_pool=True),
        "pool2": customer(None, desk, "walk_in", "call", office(1, 6), in_public_pool=True),
    }

    def audit(customer, action, changes, at):
        AuditLog.create(
            customer=customer, action=action, changes=json.dumps(changes, ensure_ascii=False), at=at
        )

    # A lost customer's furthest stage is the one they left: c5 pledged, c6 visited, c7 (no row) registered.
    audit(c["c5"], "stage_changed", {"stage": ["pledged", "lost"], "lost_reason": "预算不够"}, office(3, 20))
    audit(c["c6"], "stage_changed", {"stage": ["registered", "visited"]}, office(3, 11))
    audit(c["c6"], "stage_changed", {"stage": ["visited", "lost"], "lost_reason": "买了别家"}, office(3, 21))
    # Grade changes: in the period C→B twice and B→A once; the two edge rows are out.
    audit(c["c2"], "grade_changed", {"grade": ["C", "B"]}, office(3, 1, 0, 0))
    audit(c["c3"], "grade_changed", {"grade": ["C", "B"]}, office(3, 20))
    audit(c["c1"], "grade_changed", {"grade": ["B", "A"]}, office(3, 31, 23, 59))
    audit(c["c4"], "grade_changed", {"grade": ["C", "A"]}, office(4, 1, 0, 0))
    audit(c["c0"], "grade_changed", {"grade": ["C", "A"]}, office(2, 28, 23, 59))
    # The pool: two releases on 3 Mar, a claim and a desk take on 4 Mar; a claim on 1 Apr is out.
    for at, action in (
        (office(3, 3), "released_to_pool"),
        (office(3, 3, 11), "released_to_pool"),
        (office(3, 4), "pool_claimed"),
        (office(3, 4, 15), "pool_taken"),
        (office(4, 1, 0, 0), "pool_claimed"),
    ):
        audit(c["c7"], action, {"owner": "x"}, at)
    # Desk visits: two first registrations, two returns on 20 Mar, one visit out of the period.
    for key, at, first in (
        ("c1", office(3, 1, 0, 0), True),
        ("c5", office(3, 5, 11), True),
        ("c1", office(3, 20), False),
        ("c2", office(3, 20, 16), False),
        ("c4", office(4, 1, 0, 0), True),
    ):
        Visit.create(customer=c[key], received_by=desk, rep=c[key].owner, is_first=first, at=at)
    # Reviews of r1's registrations: first level 1 rejected of 3 decided, second level 1 of 2.
    for key, level, decision, at in (
        ("c1", 1, "approved", office(3, 2)),
        ("c1", 2, "approved", office(3, 3)),
        ("c2", 1, "rejected", office(3, 6)),
        ("c2", 1, "approved", office(3, 7)),
        ("c2", 2, "rejected", office(3, 8)),
        ("c3", 1, "rejected", office(4, 1, 0, 0)),  # out of the period
    ):
        Review.create(customer=c[key], level=level, decision=decision, reviewer=m1, at=at)

    def followup(key, author, at, next_at=None):
        FollowUp.create(
            customer=c[key], author=author, kind="call", content="跟进", created_at=at, next_at=next_at
        )

    followup("c0", r1, office(2, 28, 23, 59, 30), date(2026, 3, 1))  # F6: due 1 Mar, done 00:30 → on time
    followup("c0", r1, office(3, 1, 0, 30))  # F7
    followup("c1", r1, office(3, 2), date(2026, 3, 5))  # F1: done 5 Mar 23:30 → on time
    followup("c1", r1, office(3, 5, 23, 30), date(2026, 3, 10))  # F2: done 11 Mar → late
    followup("c1", r1, office(3, 11, 9), date(2026, 3, 20))  # F3: never done → overdue
    followup("c2", r1, office(3, 6), date(2026, 3, 8))  # F4: done 7 Mar by r2 → on time
    followup("c2", r2, office(3, 7))  # F5: anyone's follow-up counts
    followup("c2", r1, office(3, 20), date(2026, 3, 31))  # F9: done 1 Apr 00:00 → late
    followup("c2", r1, office(4, 1, 0, 0))  # F10
    followup("c0", r1, office(3, 25), date(2026, 4, 2))  # F8: due after the period: not scored
    followup("c8", r2, office(3, 12, 9, 30), date(2026, 3, 14))  # F11: done 14 Mar 23:00 → on time
    followup("c8", r2, office(3, 14, 23))  # F12
    # Written here with past times, so the times add_followup keeps for the scorecard are worked out.
    refresh_followup_times(customer.id for customer in c.values())
    # Disputes decided in March: r2 won twice, r1 won once and lost twice, r3 lost once.
    for claimant, owner, decision, at in (
        (r2, r1, "to_claimant", office(3, 10)),
        (r1, r2, "keep_owner", office(3, 15)),
        (r1, r3, "to_claimant", office(3, 20)),
        (r1, r2, "to_claimant", office(4, 1, 0, 0)),  # out of the period
    ):
        Dispute.create(
            customer=c["c1"],
            claimant=claimant,
            owner=owner,
            reason="撞单",
            status="decided",
            decision=decision,
            decided_by=m1,
            decided_at=at,
        )
    Dispute.create(customer=c["c2"], claimant=r2, owner=r1, reason="撞单")  # still open
    users = dict(m1=m1, m2=m2, r1=r1, r2=r2, r3=r3, r4=r4, desk=desk)
    return {**users, **c}


def channel_id(code):
    return Channel.get(Channel.code == code).id


# ---------------------------------------------------------------- the dashboard's figures


def test_registrations_per_day_by_channel_and_type_with_the_period_edges(office_data):
    figures = analytics.registrations(PERIOD)
    assert figures["total"] == 8
    walk_in, online, referral = channel_id("walk_in"), channel_id("online_ad"), channel_id("referral")
    by_channel = {key: n for key, n in figures["by_channel"].items() if n}
    assert by_channel == {
        (date(2026, 3, 1), walk_in): 1,  # 00:00 office time on the first day is in
        (date(2026, 3, 3), online): 1,
        (date(2026, 3, 5), walk_in): 1,
        (date(2026, 3, 10), referral): 2,
        (date(2026, 3, 12), walk_in): 1,
        (date(2026, 3, 15), online): 1,
        (date(2026, 3, 31), online): 1,  # 23:59 office time on the last day is in
    }
    assert sum(n for (_d, kind), n in figures["by_type"].items() if kind == "visit") == 4
    assert sum(n for (_d, kind), n in figures["by_type"].items() if kind == "call") == 4
    assert len(figures["days"]) == 31


def test_range_counts_count_each_range_and_key_combination_and_leave_out_empty_ones(office_data):
    walk_in, online = channel_id("walk_in"), channel_id("online_ad")
    ranges = [
        (office(3, 1, 0, 0), office(3, 4, 0, 0)),
        (office(3, 31), office(4, 1, 0, 0) + timedelta(seconds=1)),
    ]
    counts = live_figures.range_counts(
        Customer.registered_at,
        ranges,
        [(Customer.channel, [walk_in, online]), (Customer.visit_type, ("visit", "call"))],
    )
    # 1–3 March: c1 (walk-in visit, at 00:00 sharp) and c2 (online call); 31 March on: c3 and c4.
    assert counts == {
        (0, walk_in, "visit"): 1,
        (0, online, "call"): 1,
        (1, online, "call"): 1,
        (1, walk_in, "visit"): 1,
    }
    assert live_figures.range_counts(Customer.registered_at, ranges, [(Customer.channel, [])]) == {}


def test_an_inactive_channel_is_listed_only_while_it_has_registrations_in_the_period(office_data):
    Channel.update(active=False).where(Channel.code.in_(("referral", "broker"))).execute()
    codes = [channel.code for channel in analytics.registrations(PERIOD)["channels"]]
    assert "referral" in codes and "broker" not in codes  # c6 and c7 came by referral in March
    rows = {r["channel"].code for r in analytics.channel_effectiveness(PERIOD)}
    assert "referral" in rows and "broker" not in rows


def test_funnel_counts_each_customer_at_every_stage_reached_lost_ones_by_the_stage_they_left(office_data):
    result = analytics.funnel(PERIOD)
    counts = [(s["stage"], s["count"]) for s in result["steps"]]
    assert counts == [("registered", 8), ("visited", 6), ("pledged", 4), ("subscribed", 2), ("signed", 1)]
    assert [s["of_registered"] for s in result["steps"]] == [1, 6 / 8, 4 / 8, 2 / 8, 1 / 8]
    assert [s["of_previous"] for s in result["steps"]] == [None, 6 / 8, 4 / 6, 2 / 4, 1 / 2]
    assert result["lost"] == 3


def test_channel_effectiveness(office_data):
    rows = {r["channel"].code: r for r in analytics.channel_effectiveness(PERIOD)}
    counts = {code: (r["registrations"], r["visits"], r["signed"]) for code, r in rows.items()}
    assert counts["walk_in"] == (3, 3, 1)
    assert rows["walk_in"]["conversion"] == pytest.approx(1 / 3) and rows["walk_in"]["visit_rate"] == 1
    assert counts["online_ad"] == (3, 2, 0) and rows["online_ad"]["conversion"] == 0
    assert counts["referral"] == (2, 1, 0) and rows["referral"]["visit_rate"] == 0.5
    assert counts["broker"] == (0, 0, 0) and rows["broker"]["conversion"] is None


def test_grade_mix_now_and_moves_in_the_period(office_data):
    result = analytics.grade_mix(PERIOD)
    mix = {g["grade"]: (g["count"], g["moved_in"], g["moved_out"]) for g in result["grades"]}
    assert mix["A"] == (1, 1, 0)
    assert mix["B+"] == (1, 0, 0)
    assert mix["B"] == (1, 2, 1)
    assert mix["C"] == (4, 0, 2)
    assert mix["D"] == (1, 0, 0)
    assert result["total"] == 8
    assert result["moves"] == [(("B", "A"), 1), (("C", "B"), 2)]


def test_new_customers_and_return_visits(office_data):
    result = analytics.visits(PERIOD)
    assert (result["first"], result["returns"]) == (2, 2)
    assert result["counts"][date(2026, 3, 20), False] == 2
    assert result["counts"][date(2026, 3, 1), True] == 1


def test_public_pool_size_and_claims(office_data):
    result = analytics.public_pool(PERIOD)
    assert (result["size"], result["released"], result["claimed"]) == (2, 2, 2)
    assert result["counts"][date(2026, 3, 4), "claimed"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, (date(2026, 11, 1), date(2026, 11, 25), "month")),
        ({"preset": "week"}, (date(2026, 11, 23), date(2026, 11, 25), "week")),
        ({"preset": "90d"}, (date(2026, 8, 28), date(2026, 11, 25), "90d")),
        (
            {"preset": "custom", "from": "2026-03-31", "to": "2026-03-01"},
            (date(2026, 3, 1), date(2026, 3, 31), "custom"),
        ),
        (
            {"preset": "custom", "from": "2020-01-01", "to": "2026-03-31"},
            (date(2025, 3, 31), date(2026, 3, 31), "custom"),
        ),
        (
            {"preset": "custom", "from": "nonsense", "to": "2026-03-31"},
            (date(2026, 11, 1), date(2026, 11, 25), "month"),
        ),
    ],
)
def test_period_presets(args, expected):
    period = analytics.period_from_args(args, today=date(2026, 11, 25))  # a Wednesday
    assert (period.start, period.end, period.preset) == expected


# ---------------------------------------------------------------- the dashboard page and its exports


def test_dashboard_shows_the_figures_and_a_chart_beside_each_table(office_data, login):
    response = login(office_data["m1"]).get(f"/analytics/?{MARCH}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-testid="sum-registrations">8<', html)
    assert re.search(r'data-testid="sum-signed">1<', html)
    assert re.search(r'data-testid="sum-conversion">12.5%<', html)
    blocks = re.findall(r'<script type="application/json" id="chart-data-(\w+)">(.*?)</script>', html, re.S)
    charts = {name: json.loads(body) for name, body in blocks}
    assert set(charts) == {
        "registrations_by_channel",
        "registrations_by_type",
        "funnel",
        "channels",
        "deals",
        "grades",
        "visits",
        "pool",
    }
    assert charts["funnel"]["datasets"][0]["data"] == [8, 6, 4, 2, 1]
    for name in charts:
        assert f'data-chart="chart-data-{name}"' in html and f'data-testid="export-{name}"' in html
    assert 'data-testid="export-grade_moves"' in html
    assert "66.7%" in html  # visited → pledged: 4 of 6
    assert "<script>" not in html  # no inline executable script


def _sheet_rows(response):
    sheet = load_workbook(BytesIO(response.data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _html_table(html, name):
    """(headers, rows) of the page's table, as text."""
    table = re.search(rf'<table class="striped" data-testid="rows-{name}">(.*?)</table>', html, re.S).group(1)
    headers = re.findall(r"<th scope=\"col\">(.*?)</th>", table)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return headers, rows


def _as_shown(value, percent):
    if value is None:
        return "—"
    return f"{value:.1%}" if percent else str(value)


def test_excel_export_matches_the_table_and_is_logged(office_data, login):
    manager = login(office_data["m1"])
    headers, shown = _html_table(manager.get(f"/analytics/?{MARCH}").get_data(as_text=True), "funnel")
    response = manager.get(f"/analytics/export/funnel.xlsx?{MARCH}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    rows = _sheet_rows(response)
    assert rows[1][1] == "2026-03-01 – 2026-03-31"
    assert rows[4] == headers
    body = rows[5:]
    assert [[_as_shown(cell, column >= 2) for column, cell in enumerate(row)] for row in body] == shown
    assert [row[1] for row in body] == [8, 6, 4, 2, 1]
    assert [row[2] for row in body] == pytest.approx([1, 0.75, 0.5, 0.25, 0.125])
    assert body[0][3] is None and body[2][3] == pytest.approx(4 / 6)
    entry = AccessLog.get(AccessLog.action == "export")
    assert (entry.actor_id, entry.fields, entry.customer_id) == (
        office_data["m1"].id,
        "analytics:funnel",
        None,
    )


def test_excel_export_of_a_daily_table_has_the_same_rows_as_the_page(office_data, login):
    manager = login(office_data["m1"])
    rows = _sheet_rows(manager.get(f"/analytics/export/registrations_by_type.xlsx?{MARCH}"))
    body = rows[5:]
    assert len(body) == 32  # 31 days and the total
    assert body[0][0] == datetime(2026, 3, 1) and body[0][1:] == [1, 0, 1]
    assert body[-1][1:] == [4, 4, 8]


def test_excel_cells_are_neutralised_against_formulas(office_data, login, make_customer):
    Channel.create(code="evil", name='=HYPERLINK("http://x")', kind="direct", sort_order=99)
    make_customer(
        owner=office_data["r1"], registered_by=office_data["r1"], channel="evil", registered_at=office(3, 9)
    )
    rows = _sheet_rows(login(office_data["m1"]).get(f"/analytics/export/channels.xlsx?{MARCH}"))
    names = [row[0] for row in rows[5:]]
    assert '\'=HYPERLINK("http://x")' in names
    assert not any(isinstance(name, str) and name.startswith("=") for name in names)


def test_unknown_export_is_404(office_data, login):
    assert login(office_data["m1"]).get(f"/analytics/export/customers.xlsx?{MARCH}").status_code == 404
    assert AccessLog.select().count() == 0


@pytest.mark.parametrize("role", ["reception", "auditor", "rep"])
def test_dashboard_and_exports_are_for_managers_and_admins(login_as, role):
    session = login_as(role)
    assert session.get("/analytics/").status_code == 403
    assert session.get("/analytics/export/funnel.xlsx").status_code == 403
    assert session.get("/analytics/reps").status_code == 403


def test_default_period_is_this_month(login_as):
    html = login_as("manager").get("/analytics/").get_data(as_text=True)
    assert 'data-testid="preset-month"' in html
    assert re.search(r'data-testid="preset-month"\s+aria-current="true"', html)


# ---------------------------------------------------------------- the scorecard


def test_completeness_in_sql_agrees_with_the_review_checklist(office_data):
    assert set(scorecard.FILLED_SQL) == {name for name, _test in COMPLETENESS}
    for key in ("c0", "c1", "c2", "c3", "c5"):
        customer = Customer.get_by_id(office_data[key].id)
        in_python = sum(1 for _name, test in COMPLETENESS if test(customer))
        in_sql = Customer.select(scorecard.filled_fields()).where(Customer.id == customer.id).scalar()
        assert in_sql == in_python, key
    assert [
        sum(1 for _n, test in COMPLETENESS if test(Customer.get_by_id(office_data[k].id)))
        for k in ("c1", "c2", "c3")
    ] == [12, 4, 5]


def test_scorecard_figures(office_data):
    r1, r2, r3 = office_data["r1"], office_data["r2"], office_data["r3"]
    by_rep = {s.rep.id: s for s in scorecard.scores(PERIOD, [r1, r2, r3])}
    one, two, three = by_rep[r1.id], by_rep[r2.id], by_rep[r3.id]
    assert one.registrations == 3  # c1, c2, c3: c0 and c4 are just outside March
    assert one.completeness == pytest.approx(21 / 36)
    assert one.first_rejection == pytest.approx(1 / 3)
    assert one.second_rejection == pytest.approx(1 / 2)
    assert (one.due, one.on_time, one.late, one.overdue) == (6, 3, 2, 1)
    assert one.timeliness == pytest.approx(0.5)
    assert (one.customers, one.signed, one.conversion) == (3, 1, pytest.approx(1 / 3))
    assert one.days_to_first == pytest.approx(2.0)  # c1: 1 day, c2: 3 days, c3: none yet
    assert (one.disputes_won, one.disputes_lost) == (1, 2)
    # Every customer the rep owns counts, c5 that the desk registered too.
    assert two.registrations == 4 and two.completeness == pytest.approx(12 / 48)
    assert two.first_rejection is None and two.second_rejection is None
    assert (two.due, two.on_time, two.overdue, two.timeliness) == (1, 1, 0, 1)
    assert (two.customers, two.signed, two.conversion, two.days_to_first) == (4, 0, 0, 0)
    assert (two.disputes_won, two.disputes_lost) == (2, 0)
    assert (three.registrations, three.customers, three.disputes_lost) == (1, 1, 1)  # c9, from the desk
    assert three.completeness == pytest.approx(3 / 12) and three.timeliness is None


def test_days_to_first_follow_up_count_office_midnights(make_user, make_customer):
    rep = make_user("rep")
    late = make_customer(owner=rep, registered_by=rep, registered_at=office(3, 2, 23, 59, 59))
    early = make_customer(owner=rep, registered_by=rep, registered_at=office(3, 3, 0, 0))
    for customer, at in ((late, office(3, 3, 0, 0)), (early, office(3, 3, 23, 59, 59))):
        FollowUp.create(customer=customer, author=rep, kind="call", content="跟进", created_at=at)
    refresh_followup_times((late.id, early.id))
    score = scorecard.scores(PERIOD, [rep])[0]
    # One second past office midnight is the next day; a whole day later is still the same one.
    assert (score.followed_up, score.days_to_first_total, score.days_to_first) == (2, 1, 0.5)


def test_card_links_each_number_to_the_customers_behind_it(office_data, login):
    r1 = office_data["r1"]
    html = login(r1).get(f"/analytics/reps/{r1.id}?{MARCH}").get_data(as_text=True)
    assert f'data-testid="scorecard-{r1.id}"' in html
    assert re.search(
        rf'href="/customers/\?owner={r1.id}" class="figure" data-testid="card-registrations"><strong>3<', html
    )
    assert re.search(r'data-testid="card-timeliness"><strong>50.0%<', html)
    assert re.search(r'data-testid="card-overdue"><strong>1<', html)
    assert f"due=overdue&amp;owner={r1.id}" in html
    assert f"stage=signed&amp;owner={r1.id}" in html
    assert re.search(r'data-testid="card-days-to-first"><strong>2.0<', html)


def test_a_rep_opens_only_their_own_card(office_data, login):
    r1, r2 = office_data["r1"], office_data["r2"]
    rep = login(r1)
    assert rep.get(f"/analytics/reps/{r2.id}").status_code == 403
    assert rep.get(f"/analytics/reps/{office_data['m1'].id}").status_code == 403
    assert rep.get(f"/analytics/reps/{r1.id}").status_code == 200
    me = rep.get("/analytics/me?preset=week")
    assert me.status_code == 302 and me.headers["Location"].endswith(f"/analytics/reps/{r1.id}?preset=week")


def test_a_manager_of_another_team_cannot_open_a_reps_card(office_data, login):
    other = login(office_data["m2"])
    assert other.get(f"/analytics/reps/{office_data['r1'].id}").status_code == 403
    assert other.get(f"/analytics/reps/{office_data['r3'].id}").status_code == 200
    assert other.get(f"/analytics/reps/{office_data['r4'].id}").status_code == 200  # unmanaged
    assert other.get(f"/analytics/reps/{office_data['m1'].id}").status_code == 404  # not a rep
    own = login(office_data["m1"])
    assert own.get(f"/analytics/reps/{office_data['r1'].id}").status_code == 200
    assert own.get(f"/analytics/reps/{office_data['r3'].id}").status_code == 403


@pytest.mark.parametrize("role", ["reception", "auditor"])
def test_other_roles_open_no_card(office_data, login_as, role):
    assert login_as(role).get(f"/analytics/reps/{office_data['r1'].id}").status_code == 403


def _ranking(html):
    return [int(rep_id) for rep_id in re.findall(r'<tr data-testid="rep-(\d+)">', html)]


def test_ranking_shows_the_managers_team_sorted_best_first(office_data, login):
    r1, r2, r4 = office_data["r1"], office_data["r2"], office_data["r4"]
    manager = login(office_data["m1"])
    by_timeliness = manager.get(f"/analytics/reps?{MARCH}&sort=timeliness").get_data(as_text=True)
    assert _ranking(by_timeliness) == [r2.id, r1.id, r4.id]  # 100%, 50%, nothing due
    by_conversion = manager.get(f"/analytics/reps?{MARCH}&sort=conversion").get_data(as_text=True)
    assert _ranking(by_conversion) == [r1.id, r2.id, r4.id]
    by_losses = manager.get(f"/analytics/reps?{MARCH}&sort=disputes_lost").get_data(as_text=True)
    assert _ranking(by_losses)[-1] == r1.id
    assert f"rep-{office_data['r3'].id}" not in by_losses  # another manager's rep
    rows = _sheet_rows(manager.get(f"/analytics/export/reps.xlsx?{MARCH}&sort=timeliness"))
    assert [row[0] for row in rows[5:]] == ["乙", "甲", "丁"]
    assert rows[5][6] == 1 and rows[6][6] == pytest.approx(0.5)
    assert AccessLog.get(AccessLog.action == "export").fields == "analytics:reps"


def test_admin_ranks_every_rep(office_data, login_as):
    html = login_as("admin").get(f"/analytics/reps?{MARCH}").get_data(as_text=True)
    assert sorted(_ranking(html)) == sorted(office_data[k].id for k in ("r1", "r2", "r3", "r4"))


def test_nav_shows_analytics_to_managers_and_the_scorecard_to_reps(login_as):
    assert 'href="/analytics/"' in login_as("manager").get("/").get_data(as_text=True)
    rep_home = login_as("rep").get("/").get_data(as_text=True)
    assert 'href="/analytics/me"' in rep_home and 'href="/analytics/"' not in rep_home


# ---------------------------------------------------------------- deals


@pytest.fixture
def deal_data(office_data):
    """The office's March deals: confirmed ones in the period count, by their date; a cancelled, a
    waiting and two just outside the period do not."""
    d, m1 = office_data, office_data["m1"]

    def deal(key, rep, stage, price, day, status="confirmed"):
        Deal.create(
            customer=d[key], rep=d[rep], stage=stage, unit_number=f"{key}-{stage}", area="300",
            price=price, deal_date=day, payment="full", status=status, stage_before="visited",
            recorded_by=d[rep], confirmed_by=m1 if status == "confirmed" else None,
        )  # fmt: skip

    deal("c1", "r1", "pledged", 50_000, date(2026, 3, 1))  # the first day: in
    deal("c1", "r1", "subscribed", 12_000_000, date(2026, 3, 10))
    deal("c1", "r1", "signed", 12_000_000, date(2026, 3, 20))
    deal("c8", "r2", "subscribed", 8_000_000, date(2026, 3, 25))
    deal("c9", "r3", "pledged", 50_000, date(2026, 3, 16))
    deal("c5", "r2", "pledged", 50_000, date(2026, 3, 6), "cancelled")
    deal("c2", "r1", "subscribed", 9_000_000, date(2026, 3, 28), "pending")
    deal("c0", "r1", "signed", 10_000_000, date(2026, 2, 28))  # the day before: out
    deal("c4", "r1", "pledged", 30_000, date(2026, 4, 1))  # the day after: out
    return d


def test_deals_by_channel_equal_the_hand_count(deal_data):
    rows = {r["who"].code: r for r in analytics.deals_by_channel(PERIOD)}
    walk_in = rows["walk_in"]  # c1 (signed), c5 (lost after 认筹), c8 (subscribed): all visited
    assert (walk_in["pledged"], walk_in["pledged_amount"]) == (1, 50_000)
    assert (walk_in["subscribed"], walk_in["subscribed_amount"]) == (2, 20_000_000)
    assert (walk_in["signed"], walk_in["signed_amount"]) == (1, 12_000_000)
    assert walk_in["deals"] == 4 and walk_in["visited"] == 3
    assert walk_in["visit_to_subscription"] == pytest.approx(2 / 3)  # c1, c8
    assert walk_in["visit_to_signing"] == pytest.approx(1 / 3)  # c1
    online = rows["online_ad"]  # c9's 认筹; c2's 认购 still waits for the manager
    assert (online["pledged"], online["subscribed"], online["signed"], online["deals"]) == (1, 0, 0, 1)
    assert (online["visited"], online["visit_to_subscription"]) == (2, 0)
    referral = rows["referral"]
    assert (referral["deals"], referral["visited"], referral["visit_to_signing"]) == (0, 1, 0)
    assert rows["broker"]["visit_to_subscription"] is None  # nobody visited


def test_scorecard_deal_figures_equal_the_hand_count(deal_data):
    r1, r2, r3, r4 = (deal_data[k] for k in ("r1", "r2", "r3", "r4"))
    by_rep = {s.rep.id: s for s in scorecard.scores(PERIOD, [r1, r2, r3, r4])}
    one, two, three, four = (by_rep[r.id] for r in (r1, r2, r3, r4))
    names = ("pledged", "subscribed", "subscribed_amount", "signed", "signed_amount")
    assert [one.deal(name) for name in names] == [1, 1, 12_000_000, 1, 12_000_000]
    # r1's March customers: c1 (signed) and c2 visited; c3 did not.
    assert (one.deal("visited"), one.visit_to_subscription, one.visit_to_signing) == (2, 0.5, 0.5)
    # r2: the cancelled 认筹 does not count; c5 (lost after 认筹), c6 and c8 visited, c8 subscribed.
    assert (two.deal("pledged"), two.deal("subscribed"), two.deal("subscribed_amount")) == (0, 1, 8_000_000)
    assert two.deal("visited") == 3
    assert two.visit_to_subscription == pytest.approx(1 / 3) and two.visit_to_signing == 0
    assert (three.deal("pledged"), three.deal("pledged_amount"), three.visit_to_subscription) == (
        1,
        50_000,
        0,
    )
    assert four.deal("deals") == 0 and four.visit_to_subscription is None


def test_dashboard_deal_table_and_its_export_show_the_same_figures(deal_data, login):
    manager = login(deal_data["m1"])
    html = manager.get(f"/analytics/?{MARCH}").get_data(as_text=True)
    _headers, rows = _html_table(html, "deals")
    walk_in = next(row for row in rows if row[0] == Channel.get(Channel.code == "walk_in").name)
    assert walk_in[1:] == ["3", "1", "2", "¥20,000,000", "1", "¥12,000,000", "66.7%", "33.3%"]
    total = re.search(r'data-testid="rows-deals">.*?<tfoot><tr>(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<th[^>]*>(.*?)</th>", total)[1:] == [
        "6", "2", "2", "¥20,000,000", "1", "¥12,000,000", "33.3%", "16.7%"
    ]  # fmt: skip
    sheet = _sheet_rows(manager.get(f"/analytics/export/deals.xlsx?{MARCH}"))
    exported = next(row for row in sheet[5:] if row[0] == walk_in[0])
    assert exported[1:7] == [3, 1, 2, 20_000_000, 1, 12_000_000]
    assert exported[7] == pytest.approx(2 / 3)


def test_ranking_and_card_show_the_deals(deal_data, login):
    r1 = deal_data["r1"]
    manager = login(deal_data["m1"])
    rows = _sheet_rows(manager.get(f"/analytics/export/reps.xlsx?{MARCH}&sort=visit_to_subscription"))
    assert [row[0] for row in rows[5:]] == ["甲", "乙", "丁"]  # 50%, 33.3%, nobody visited
    first = rows[5]
    assert first[-7:-2] == [1, 1, 12_000_000, 1, 12_000_000] and first[-2:] == [0.5, 0.5]
    card = login(r1).get(f"/analytics/reps/{r1.id}?{MARCH}").get_data(as_text=True)
    assert re.search(r'data-testid="card-signed-deals">1<', card)
    assert "¥12,000,000" in card and re.search(r'data-testid="card-visit-to-signing">50.0%<', card)
