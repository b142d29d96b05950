"""The questions villa offices ask about a customer: where they live and work, occupation, family,
how many homes they bought before, and what draws them (关注点) and holds them back (抗性点).

Each is picked from a list the admin edits in the settings (one setting per question). 关注点 and
抗性点 take several answers, stored as one text joined by "、" (an option never contains it), so
the customer list can filter on any one of them.
"""

import re

from peewee import Value

from villa.i18n import lazy_gettext as _l
from villa.models import Customer

# Customer column -> the setting holding its options, and the label the office uses.
QUESTIONS = {
    "home_area": ("options_home_area", _l("Lives in")),
    "work_area": ("options_work_area", _l("Works in")),
    "occupation": ("options_occupation", _l("Occupation")),
    "family_structure": ("options_family_structure", _l("Family")),
    "purchase_count": ("options_purchase_count", _l("Homes bought before")),
    "concerns": ("options_concerns", _l("What matters to the customer")),
    "objections": ("options_objections", _l("What holds the customer back")),
}
MULTIPLE = ("concerns", "objections")  # several answers each
SEPARATOR = "、"
# What people type between several answers in a cell or a correction: any of these.
_SPLIT = re.compile(r"[、,，;；|\n]+")
OPTION_MAX = 40
ANSWERS_MAX = 200  # the stored text of several answers

DEFAULT_OPTIONS = {
    "options_home_area": [
        "朝阳区", "海淀区", "东城区", "西城区", "丰台区", "顺义区", "昌平区", "通州区", "大兴区", "外省市",
    ],
    "options_work_area": ["国贸CBD", "金融街", "中关村", "望京", "亦庄", "顺义", "其他城区", "外省市"],
    "options_occupation": [
        "企业主", "企业高管", "金融从业者", "公务员或事业单位", "专业人士（医生/律师）",
        "自由职业", "退休", "其他",
    ],
    "options_family_structure": ["单身", "二人世界", "三口之家", "二孩家庭", "三代同堂", "其他"],
    "options_purchase_count": ["首次置业", "二次置业", "三次及以上"],
    "options_concerns": [
        "地段", "学区", "交通", "园林景观", "户型", "私家花园", "物业服务", "品牌开发商", "价格", "生活配套",
    ],
    "options_objections": [
        "价格偏高", "距离市区远", "交通不便", "配套不完善", "户型不满意", "首付压力", "交房时间", "物业费高",
    ],
}  # fmt: skip


def split_answers(value) -> list[str]:
    """Several answers as a list, from a list or a text joined by 、 (or , ; | as people type them)."""
    items = value if isinstance(value, list | tuple) else _SPLIT.split(str(value or ""))
    seen = []
    for item in (str(i).strip() for i in items):
        if item and item not in seen:
            seen.append(item)
    return seen


def join_answers(value) -> str:
    return SEPARATOR.join(split_answers(value))


def condition(name: str, value: str):
    """The customer list's filter on one question: this answer (one of several, for 关注点 and 抗性点)."""
    column = getattr(Customer, name)
    if name in MULTIPLE:
        # "、a、b、" contains "、a、" exactly when a is one of the answers; LIKE wildcards are escaped.
        return Value(SEPARATOR).concat(column).concat(SEPARATOR).contains(f"{SEPARATOR}{value}{SEPARATOR}")
    return column == value


def filters_from(args) -> dict:
    """The question filters of a request's query string (values as the option lists hold them)."""
    return {name: args.get(name, "")[:OPTION_MAX] for name in QUESTIONS if args.get(name)}
