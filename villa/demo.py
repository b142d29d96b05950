"""Demo data: a login for every role and a few hundred realistic customers, for an empty database."""

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from stdnum.cn import ric

from villa import handover, rotation
from villa.auth import hash_password
from villa.clock import OFFICE_UTC_OFFSET, now, office_day_start
from villa.customers import set_alt_phone, set_id_number, set_phone
from villa.db import db
from villa.demo_deals import add_deals
from villa.demo_records import add_records
from villa.demo_reports import add_reports
from villa.followups import refresh_followup_times
from villa.identity import try_normalise_phone
from villa.models import (
    FOLLOWUP_KINDS,
    PURPOSES,
    AuditLog,
    Channel,
    Customer,
    FollowUp,
    Material,
    Review,
    RotationSkip,
    Setting,
    User,
    Visit,
)
from villa.notify.digest import morning_digest
from villa.questions import DEFAULT_OPTIONS, MULTIPLE, QUESTIONS, SEPARATOR
from villa.registration import log_return_visit


class DemoRefused(Exception):
    """This database is not one demo data may go into."""


DEMO_PASSWORD = "villa-demo-2026"  # published in the README: demo logins are not secrets
# (username, display name, role, manager username): names as the office calls them; pages show the role
DEMO_USERS = (
    ("reception", "小林", "reception", None),
    ("manager", "王经理", "manager", None),
    ("manager2", "赵经理", "manager", None),
    ("rep", "李娜", "rep", "manager"),
    ("rep2", "张伟", "rep", "manager"),
    ("rep3", "陈静", "rep", "manager2"),
    ("rep4", "刘洋", "rep", None),
    ("auditor", "周敏", "auditor", None),
    ("admin", "系统管理员", "admin", None),
    ("broker1", "周强", "broker", None),  # 链家's broker (villa.demo_reports): an external login
)
SEED = 2026
BATCH = 200

# Common surnames, most common first; the weights in _name follow this order.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙阳国建志文海峰东晨"
FEMALE_CHARS = "芳娜敏静丽艳娟霞燕玲婷雪慧莹洁琳颖倩萍红梅琴兰月欣悦佳怡秀英晶妍璐蕾薇雯"
# Repeats weight the older, commoner 13x and 15x/18x blocks as real customer lists show them.
MOBILE_PREFIXES = (
    [f"13{d}" for d in range(10)] * 3
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"] * 2
    + [f"18{d}" for d in range(10)] * 2
    + ["173", "175", "176", "177", "178", "198", "199"]
)
RESERVED_PHONES = {"13800138000"}  # the tests' own number: demo data must never collide with it
REGIONS = ["110105", "110108", "310104", "310115", "440305", "440106", "330106", "320102", "510107"]
# Channel code -> weight; walk-ins are the bulk of a sales office's registrations.
CHANNEL_WEIGHTS = {"walk_in": 35, "online_ad": 15, "offline_event": 10, "referral": 12, "broker": 18}
BROKERS = ["链家", "我爱我家", "贝壳找房", "中原地产"]
# (unit type, area band, the budget bands its buyers name)
UNITS = (
    ("独栋 380㎡", "350㎡以上", ("1500-2000万", "2000万以上")),
    ("双拼 280㎡", "250-350㎡", ("1000-1500万", "1500-2000万")),
    ("联排 220㎡", "200-250㎡", ("800-1000万", "1000-1500万")),
    ("叠拼 180㎡", "150-200㎡", ("600-800万", "800-1000万")),
)
COMPETITORS = ["融创·桃花源", "绿城·桃李春风", "万科·翡翠山"]
STREETS = [
    "上海市浦东新区锦绣路1000弄",
    "上海市徐汇区衡山路8号",
    "北京市朝阳区建国路88号",
    "杭州市西湖区文三路259号",
    "深圳市南山区科苑路15号",
    "南京市鼓楼区中山北路30号",
    "成都市锦江区红星路三段1号",
]
NOTES = [
    "周末带家人再来看样板间。",
    "关注学区和交通，孩子明年上小学。",
    "对独栋的花园面积很满意，担心物业费。",
    "想要南北通透的户型，预算可以再谈。",
    "已看过竞品项目，比较在意交付时间。",
    "老人同住，希望有电梯和一楼卧室。",
    "考虑出售现有住房后置换。",
]
LOST_REASONS = ["预算不足", "选择了竞品项目", "家人意见不统一", "购房资格不满足", "多次联系不上"]
GRADE_WEIGHTS = {"B+": 6, "B": 12, "B-": 8, "C+": 12, "C": 20, "C-": 8, "D": 4}
STAGE_WEIGHTS = {"registered": 45, "visited": 25, "pledged": 10, "subscribed": 7, "signed": 4, "lost": 9}
MAX_PROTECTION_DAYS = 90  # the office's default (villa.instance.DEFAULT_SETTINGS)
OWNER_WEIGHTS = {"rep": 35, "rep2": 30, "rep3": 15, "rep4": 10, None: 10}  # None: the public pool


def database_state() -> str:
    """Say "real" if any non-demo user or customer exists, "demo" if demo data does, else "empty"."""
    if (
        User.select().where(User.is_demo == False).exists()  # noqa: E712
        or Customer.select().where(Customer.is_demo == False).exists()  # noqa: E712
    ):
        return "real"
    return "demo" if User.select().exists() or Customer.select().exists() else "empty"


def load_demo(customers: int = 300, if_empty: bool = False) -> list[tuple[str, str, str]]:
    """Create demo users and customers; returns (username, password, role) for each demo login."""
    with db.connection_context(), db.atomic():
        state = database_state()
        if state != "empty" and if_empty:
            return []  # `make run` asks on every start: anything already there is left alone
        if state == "real":
            raise DemoRefused(
                "the database already holds real (non-demo) data; demo data is only for an empty database"
            )
        if state == "demo":
            raise DemoRefused("demo data is already loaded")
        users = _create_users()
        rng = random.Random(SEED)
        rows = _customers(rng, customers, users)
        Customer.bulk_create(rows, batch_size=BATCH)
        leaver = _leaver(users)
        _first_visits()
        _followups(rng)
        _rejections(users, rng)
        _desk_today(users)
        _reminders(users)
        _handover(leaver, users)
        add_deals(users)  # after the handover: each deal counts for the customer's owner now
        add_reports(users)  # after the deals: one 报备's customer has signed
        AuditLog.create(
            action="demo_loaded",
            target="demo",
            changes=json.dumps({"users": len(users), "customers": len(rows)}),
        )
    add_records(users)  # the nightly job, an incident, the pledges: after the customers are in
    return [(username, DEMO_PASSWORD, role) for username, _, role, _ in DEMO_USERS]


# A rep who left (离职交接): some of 张伟's customers were theirs; when they left, the admin spread
# them over the rest of 王经理's team. Not a login: the account is disabled.
LEAVER = ("rep5", "孙磊", "manager")
LEAVER_SHARE = 4  # every 4th of rep2's customers was the leaver's
LEFT_DAYS_AGO = 3


def _leaver(users: dict[str, User]) -> User:
    """The rep who will leave, with a share of rep2's customers (registered by them where rep2 did)."""
    username, name, manager = LEAVER
    leaver = User.create(
        username=username,
        display_name=name,
        role="rep",
        manager=users[manager],
        password_hash=users["rep"].password_hash,
        must_change_password=False,
        is_demo=True,
    )
    rep2 = users["rep2"]
    theirs = Customer.select(Customer.id).where(Customer.owner == rep2).order_by(Customer.id)
    ids = [c.id for n, c in enumerate(theirs) if n % LEAVER_SHARE == 0]
    Customer.update(owner=leaver).where(Customer.id.in_(ids)).execute()
    own_registrations = Customer.id.in_(ids) & (Customer.registered_by == rep2)
    Customer.update(registered_by=leaver).where(own_registrations).execute()
    return leaver


def _handover(leaver: User, users: dict[str, User]):
    """The admin disabled the leaver some days ago, their customers spread over the team."""
    handover.rep_leaves(leaver, users["admin"], "team")
    left = now() - timedelta(days=LEFT_DAYS_AGO)
    actions = ("handed_over", "customers_handed_over", "user_disabled")
    AuditLog.update(at=left).where(AuditLog.action.in_(actions)).execute()


def _rejections(users: dict[str, User], rng: random.Random):
    """The rejected demo registrations carry the manager's decision and a reason from the settings."""
    reasons = Setting.read("rejection_reasons", []) or ["信息不完整"]
    rows = Customer.select(Customer.id, Customer.registered_at).where(
        Customer.is_demo == True,  # noqa: E712
        Customer.review_status == "rejected",
    )
    for c in rows:
        reason = rng.choice(reasons)
        at = c.registered_at + timedelta(hours=rng.randrange(2, 30))
        Review.create(
            customer=c.id, level=1, decision="rejected", reason=reason, reviewer=users["manager"], at=at
        )
        AuditLog.on_customer(c.id, users["manager"], "review_rejected", {"level": 1, "reason": reason}, at=at)


def _first_visits():
    """Each demo customer's first registration, as the desk would have logged it."""
    rows = Customer.select(
        Customer.id, Customer.visit_type, Customer.registered_at, Customer.registered_by, Customer.owner
    ).where(Customer.is_demo == True)  # noqa: E712
    visits = [
        {
            "customer": c.id,
            "kind": c.visit_type,
            "at": c.registered_at,
            "received_by": c.registered_by_id,
            "rep": c.owner_id,
            "is_first": True,
            "acknowledged_at": c.registered_at,
        }
        for c in rows
    ]
    for start in range(0, len(visits), BATCH):
        Visit.insert_many(visits[start : start + BATCH]).execute()


FOLLOWUP_COUNTS = (0, 1, 2, 3, 4)  # uniform: 2 follow-ups per customer on average
FOLLOWUP_TEXTS = (
    "电话沟通，客户对独栋户型感兴趣，约周末到访。",
    "微信发送了价目表和户型图，客户说需要和家人商量。",
    "到访样板间，重点看了花园和地下室，预算偏紧。",
    "客户询问贷款政策和首付比例，已转交按揭专员。",
    "未接通，稍后再联系。",
    "客户已看过竞品项目，比较在意交付时间和物业。",
    "陪同客户及家人看房，老人对一楼卧室满意。",
)
FOLLOWUP_RESULTS = ("", "", "约下周到访", "待家人商量", "已发资料")


@dataclass
class DrawnFollowUp:
    at: datetime
    reached: bool
    next_at: date | None
    kind: str
    content: str
    result: str
    done_at: datetime | None = None  # when the next follow-up came, for one with a next date


def draw_followups(rng: random.Random, registered_at: datetime, until: datetime) -> list[DrawnFollowUp]:
    """0-4 follow-ups between the registration and `until`, as add_followup would have written them
    (the demo and the benchmark's bulk seeding share this)."""
    span = max((until - registered_at).total_seconds(), 60)
    drawn = []
    for _ in range(rng.choice(FOLLOWUP_COUNTS)):
        at = registered_at + timedelta(seconds=rng.random() * span)
        reached = rng.random() < 0.7
        next_at = (at + timedelta(days=rng.randint(1, 14))).date() if rng.random() < 0.5 else None
        kind, content = rng.choice(FOLLOWUP_KINDS), rng.choice(FOLLOWUP_TEXTS)
        drawn.append(DrawnFollowUp(at, reached, next_at, kind, content, rng.choice(FOLLOWUP_RESULTS)))
    times = sorted(entry.at for entry in drawn)
    for entry in drawn:
        entry.done_at = next((t for t in times if t > entry.at), None) if entry.next_at else None
    return drawn


def _followups(rng: random.Random):
    """Owned demo customers' follow-ups by their owner, up to their last activity; the latest one
    carries the customer's next follow-up date."""
    owned = Customer.select(
        Customer.id,
        Customer.owner,
        Customer.registered_at,
        Customer.last_activity_at,
        Customer.next_followup_on,
    ).where(Customer.is_demo == True, Customer.owner.is_null(False))  # noqa: E712
    entries, audits = [], []
    for c in owned:
        if c.last_activity_at <= c.registered_at + timedelta(hours=1):
            continue  # no contact since the registration
        drawn = sorted(draw_followups(rng, c.registered_at, c.last_activity_at), key=lambda d: d.at)
        if drawn:
            drawn[-1].next_at = c.next_followup_on
        for d in drawn:
            entries.append(
                {
                    "customer": c.id,
                    "author": c.owner_id,
                    "kind": d.kind,
                    "reached": d.reached,
                    "content": d.content,
                    "result": d.result,
                    "next_at": d.next_at,
                    "created_at": d.at,
                }
            )
            changes = json.dumps({"reached": d.reached})
            audits.append(
                {"at": d.at, "actor": c.owner_id, "action": "followup_added", "customer": c.id,
                 "target": f"customer:{c.id}", "changes": changes}
            )  # fmt: skip
    for start in range(0, len(entries), BATCH):
        FollowUp.insert_many(entries[start : start + BATCH]).execute()
        AuditLog.insert_many(audits[start : start + BATCH]).execute()
    refresh_followup_times([c.id for c in owned])  # when each due one was done, each first follow-up


def _desk_today(users: dict[str, User]):
    """Reps on duty, walk-ins given out of turn with their reasons (the skip report), and the sales
    material the desk hands out, so the desk page is alive."""
    desk = users["reception"]
    for rep in ("rep", "rep2", "rep3"):
        rotation.check_in(users[rep], desk)
    # Today: the customer asked for 陈静 while 李娜 was next.
    rotation.took_walk_in(users["rep3"], desk, "customer_choice")
    # Earlier: rep2's latest walk-in before today went to them out of turn, passing 李娜 over.
    visit = (
        Visit.select()
        .join(Customer)
        .where(
            Visit.rep == users["rep2"],
            Visit.kind == "visit",
            Visit.at < office_day_start(),
            Visit.at >= office_day_start() - timedelta(days=14),  # inside the skip report's window
            Customer.registered_by == desk,
        )
        .order_by(Visit.at.desc(), Visit.id.desc())
        .first()
    )
    if visit is not None:
        office_day = (visit.at + OFFICE_UTC_OFFSET).date()
        RotationSkip.create(
            day=office_day, at=visit.at, given_to=users["rep2"], skipped=users["rep"], reason="language",
            note="客户说粤语", actor=desk, visit=visit,
        )  # fmt: skip
    for order, name in enumerate(("户型图·独栋A户型", "户型图·双拼B户型", "价目表（2026年11月）")):
        Material.create(name=name, sort_order=order)


def _reminders(users: dict[str, User]):
    """The demo rep's inbox: today's digest and a customer who just came back, so the bell shows."""
    rep = users["rep"]
    morning_digest(rep)
    customer = Customer.select().where(Customer.owner == rep).order_by(Customer.id).first()
    if customer is not None:
        log_return_visit(customer, users["reception"], "visit")


def _create_users() -> dict[str, User]:
    """The demo staff; argon2 is slow by design, so the one hash is shared."""
    password_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for username, name, role, manager in DEMO_USERS:
        users[username] = User.create(
            username=username,
            display_name=name,
            role=role,
            manager=users[manager] if manager else None,
            password_hash=password_hash,
            must_change_password=False,
            is_demo=True,
        )
    return users


def _customers(rng: random.Random, count: int, users: dict[str, User]) -> list[Customer]:
    """Build (not save) `count` customers with unique phones and ID numbers."""
    channels = list(Channel.select().where(Channel.active == True).order_by(Channel.id))  # noqa: E712
    weights = [CHANNEL_WEIGHTS.get(c.code, 10) for c in channels]
    context = {
        "rng": rng,
        "users": users,
        "now": now(),
        "notice": Setting.read("privacy_notice_version", "2026-11"),
        "days": {
            "visit": Setting.read("protection_days_visit", 15),
            "call": Setting.read("protection_days_call", 7),
        },
        "phones": _unique(lambda: _mobile(rng), 2 * count),
        "ids": set(),
    }
    picked = rng.choices(channels, weights, k=count) if channels else []
    return [_customer(context, channel) for channel in picked]


def _unique(make, count: int) -> list[str]:
    """`count` distinct values from `make`, in a deterministic order."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(make(), None)
    return list(seen)


def _mobile(rng: random.Random) -> str:
    while True:
        number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if number not in RESERVED_PHONES and try_normalise_phone(number):
            return number


def _name(rng: random.Random, gender: str) -> str:
    chars = {"M": MALE_CHARS, "F": FEMALE_CHARS}.get(gender, MALE_CHARS + FEMALE_CHARS)
    surname = rng.choices(SURNAMES, weights=[1 / (i + 4) for i in range(len(SURNAMES))])[0]
    return surname + "".join(rng.sample(chars, rng.choice((1, 2, 2))))


def _resident_id(rng: random.Random, gender: str, taken: set) -> str:
    """A GB 11643 number: region, birth date 1960-1995, sequence (odd for men), check digit."""
    while True:
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(36 * 365))
        sequence = rng.randrange(500) * 2 + (1 if gender == "M" else 0)
        body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{sequence:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in taken:
            taken.add(number)
            return number


def _registered_at(rng: random.Random, current: datetime) -> datetime:
    """A moment in office hours within the last 120 days, never in the future."""
    local_day = (current + OFFICE_UTC_OFFSET).date() - timedelta(days=rng.randrange(120))
    minutes = rng.randrange(9 * 60, 20 * 60)
    moment = datetime.combine(local_day, datetime.min.time()) + timedelta(minutes=minutes) - OFFICE_UTC_OFFSET
    return moment if moment < current else current - timedelta(minutes=rng.randrange(1, 240))


def _customer(ctx: dict, channel: Channel) -> Customer:
    rng, current = ctx["rng"], ctx["now"]
    gender = rng.choices("MFU", (52, 45, 3))[0]
    visit_type = "visit" if rng.random() < 0.65 else "call"
    registered_at = _registered_at(rng, current)
    age_days = (current - registered_at).days
    c = Customer(name=_name(rng, gender), gender=gender, channel=channel, visit_type=visit_type, is_demo=True)
    c.registered_at = c.consent_at = registered_at
    c.notice_version = ctx["notice"]
    set_phone(c, ctx["phones"].pop())
    if rng.random() < 0.15:
        set_alt_phone(c, ctx["phones"].pop())
    _fill_identity(c, rng, ctx["ids"])
    _fill_source(c, rng, channel)
    _fill_needs(c, rng)
    _fill_deal(c, rng, age_days)
    _fill_ownership(c, ctx, age_days, channel.protection_days or ctx["days"][visit_type])
    return c


def _fill_identity(c: Customer, rng: random.Random, taken: set):
    """About 30% show an ID card, which needs the separate consent first."""
    if rng.random() < 0.30:
        set_id_number(c, "resident", _resident_id(rng, c.gender, taken))
        c.sensitive_consent_at = c.registered_at
        age = c.registered_at.year - int(c.id_number[6:10])
        if rng.random() < 0.5:
            c.payment_method = rng.choice(("全款", "商业贷款", "组合贷款"))
            c.asset_band = rng.choice(("1000-3000万", "3000-5000万", "5000万以上"))
    else:
        age = rng.randint(30, 66)
    c.age_band = "60+" if age >= 60 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"
    if rng.random() < 0.35:
        c.address = f"{rng.choice(STREETS)}{rng.randint(1, 30)}号{rng.randint(101, 2802)}室"
    if rng.random() < 0.40:
        c.wechat = "wxid_" + "".join(rng.choices("abcdefghijkmnpqrstuvwxyz23456789", k=10))
    if rng.random() < 0.40:
        c.hukou_local = rng.random() < 0.6
        c.social_insurance_months = rng.randint(0, 120)
        c.homes_owned = rng.choice((0, 1, 1, 2, 3))


def _fill_source(c: Customer, rng: random.Random, channel: Channel):
    if channel.kind == "referral":
        c.referrer_name = _name(rng, rng.choice("MF"))
    elif channel.kind == "broker":
        c.broker_agency = rng.choice(BROKERS)
        c.broker_name = _name(rng, rng.choice("MF"))


def _fill_needs(c: Customer, rng: random.Random):
    unit, area, budgets = rng.choice(UNITS)
    if c.visit_type == "visit" or rng.random() < 0.6:  # callers often have not chosen a unit yet
        c.unit_type, c.area_band = unit, area
    c.budget = rng.choice(budgets)
    c.purpose = rng.choices(PURPOSES, (4, 2, 2, 3))[0]
    if rng.random() < 0.25:
        c.competing_projects = "、".join(rng.sample(COMPETITORS, rng.choice((1, 1, 2))))
    if rng.random() < 0.40:
        c.notes = rng.choice(NOTES)
    _fill_questions(c)


def _fill_questions(c: Customer):
    """The questions villa offices ask, answered for about two customers in three. A generator of
    its own, so the rest of the demo stays as it was."""
    rng = random.Random(f"{c.name}{c.registered_at}")
    if rng.random() < 0.35:
        return
    for name in QUESTIONS:
        choices = DEFAULT_OPTIONS[QUESTIONS[name][0]]
        if name in MULTIPLE:
            setattr(c, name, SEPARATOR.join(rng.sample(choices, rng.choice((1, 2, 2, 3)))))
        elif rng.random() < 0.8:
            setattr(c, name, rng.choice(choices))


def _fill_deal(c: Customer, rng: random.Random, age_days: int):
    """Later stages need time: a customer registered this week has not signed."""
    stages = {s: w for s, w in STAGE_WEIGHTS.items() if age_days >= 14 or s in ("registered", "visited")}
    c.stage = rng.choices(list(stages), list(stages.values()))[0]
    if c.stage in ("subscribed", "signed"):
        c.grade = "A"
    elif c.stage == "pledged":
        c.grade = rng.choice(("B+", "B"))
    elif c.stage == "lost":
        c.grade, c.lost_reason = rng.choice(("C-", "D")), rng.choice(LOST_REASONS)
    else:
        c.grade = rng.choices(list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values()))[0]
    if c.stage not in ("registered", "visited"):
        c.review_status = "approved"  # a deal goes ahead only on an approved registration
    elif age_days < 3:
        c.review_status = rng.choices(("pending_first", "pending_second"), (7, 3))[0]
    elif age_days < 14:
        states = ("pending_first", "pending_second", "approved", "rejected")
        c.review_status = rng.choices(states, (20, 30, 45, 5))[0]
    else:
        c.review_status = rng.choices(("approved", "rejected", "pending_second"), (95, 3, 2))[0]


def _fill_ownership(c: Customer, ctx: dict, age_days: int, days: int):
    """Owner, protection and activity; only lapsed, unfinished customers sit in the public pool."""
    rng, current, users = ctx["rng"], ctx["now"], ctx["users"]
    owner = rng.choices(list(OWNER_WEIGHTS), list(OWNER_WEIGHTS.values()))[0]
    if owner is None and (age_days <= 2 * days or c.stage not in ("registered", "visited")):
        owner = "rep"
    registered_at = c.registered_at
    if owner is None:
        c.in_public_pool, c.review_status = True, "approved"
        c.last_activity_at = registered_at + timedelta(hours=rng.randrange(days * 12))
        c.protected_until = registered_at + timedelta(days=days)
        c.pool_since = c.protected_until + timedelta(hours=8)  # released by that night's `villa daily`
    else:
        # Follow-ups that reached the customer extend protection from the latest one;
        # a few lapse so the daily job and the 3-day reminder have something to show.
        c.owner = users[owner]
        lately = current - timedelta(hours=days * 26.4 * rng.random() ** 2)
        c.last_activity_at = max(registered_at, lately)
        c.protected_until = c.last_activity_at + timedelta(days=days)
        if c.stage in ("registered", "visited"):  # the longest protection (settings: 90 days)
            c.owned_since = registered_at
            c.protected_until = min(c.protected_until, registered_at + timedelta(days=MAX_PROTECTION_DAYS))
        if c.stage not in ("signed", "lost") and rng.random() < 0.5:
            local_today = (current + OFFICE_UTC_OFFSET).date()
            c.next_followup_on = local_today + timedelta(days=rng.randint(-10, 10))
    # The desk registers most walk-ins; a rep registers their own calls.
    by_desk = owner is None or (c.visit_type == "visit" and rng.random() < 0.7)
    c.registered_by = users["reception"] if by_desk else c.owner
    c.updated_at = c.last_activity_at
