"""Write tests/data/legacy_register.xlsx: a messy legacy 客户登记表, byte for byte the same every run.

Run from the repository root: python tests/data/make_legacy_register.py
The comment on each row says what the import must make of it (tests/test_transfer.py checks it).
"""

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from stdnum.cn import ric

OUT = Path(__file__).with_name("legacy_register.xlsx")
FIXED_TIME = (2025, 4, 1, 9, 0, 0)
HEADERS = ["序号", "登记日期", "姓名", "性别", "联系电话", "来源渠道", "意向户型", "面积", "预算", "置业顾问",
           "身份证号", "备注", "跟进情况"]  # fmt: skip


def wide(text: str) -> str:
    """The digits as full-width characters, as a Chinese input method types them."""
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def resident_id(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


GOOD_ID = resident_id("11010519800308123")
BAD_ID = GOOD_ID[:-1] + ("1" if GOOD_ID[-1] != "1" else "2")  # wrong check digit
EVIL_NAME = '=HYPERLINK("http://evil","x")'

# One entry per sheet row from row 3 on; None is a blank row. Columns as in HEADERS.
ROWS = [
    # 3: imported (owner 李娜, by display name); its ID number is imported only with consent
    [1, datetime(2025, 3, 8), "张伟", "男", "13712340001", "自然到访", "独栋", "300-400㎡", "1500-2000万",
     "李娜", GOOD_ID, "周末带家人来", "已回访"],
    # 4: imported; full-width digits, channel given by its code
    [2, "2025/3/8", "王芳", "女", wide("13712340002"), "online_ad", "双拼", "", "1000-1500万", "李娜",
     "", "", ""],
    # 5: imported; "+86 138-…" form, date written the Chinese way
    [3, "2025年3月8日", "李强", "男", "+86 137-1234-0003", "中介渠道", "联排", "", "", "rep_li", "", "", ""],
    # 6: duplicate of row 3 (same phone, spaced differently)
    [4, "2025-03-09", "赵敏", "女", "137 1234 0001", "自然到访", "", "", "", "李娜", "", "", ""],
    None,  # 7: blank, skipped
    # 8: duplicate of the customer the test registers first (13712349999)
    [5, "2025-03-09", "陈静", "女", "13712349999", "自然到访", "", "", "", "李娜", "", "", ""],
    # 9: phone too short
    [6, "2025-03-09", "刘洋", "男", "1371234", "自然到访", "", "", "", "李娜", "", "", ""],
    # 10: phone with letters
    [7, "2025-03-10", "杨光", "男", "137abcd0004", "自然到访", "", "", "", "李娜", "", "", ""],
    # 11: unknown channel
    [8, "2025-03-10", "黄磊", "男", "13712340005", "抖音直播", "", "", "", "李娜", "", "", ""],
    # 12: missing name
    [9, "2025-03-10", "", "", "13712340006", "自然到访", "", "", "", "李娜", "", "", ""],
    # 13: a formula-looking name, typed as text: not a name
    [10, "2025-03-10", EVIL_NAME, "", "13712340011", "自然到访", "", "", "", "李娜", "", "", ""],
    None,  # 14: blank, skipped
    # 15: imported into the public pool: no such rep
    [11, "2025-03-11", "孙丽", "女", "13712340007", "朋友推荐", "", "", "", "周杰", "", "", ""],
    # 16: impossible date
    [12, "2025-13-45", "朱红", "女", "13712340012", "自然到访", "", "", "", "李娜", "", "", ""],
    # 17: imported into the public pool: no rep given; phone as a number cell, gender blank
    [13, datetime(2025, 3, 12), "胡军", "", 13712340008, "线下活动", "", "", "", "", "", "", ""],
    # 18: imported; a Shanghai landline with its area code
    [14, "2025/3/12", "郭静", "女", "021-6888 1234", "自然到访", "", "", "", "李娜", "", "", ""],
    # 19: imported; a Hong Kong mobile
    [15, "2025/3/12", "何家明", "男", "+852 9123 4567", "自然到访", "", "", "", "李娜", BAD_ID, "", ""],
    # 20: duplicate of row 4 (full-width and +86)
    [16, "2025/3/13", "王芳", "女", "+86 " + wide("137-1234-0002"), "网络广告", "", "", "", "李娜",
     "", "", ""],
    # 21: missing phone
    [17, "2025/3/13", "林涛", "男", "", "自然到访", "", "", "", "李娜", "", "", ""],
    # 22: imported; a name with the middle dot
    [18, "2025/3/13", "阿依古丽·买买提", "女", "13712340009", "老业主推荐", "", "", "", "李娜", "", "", ""],
    None,  # 23: blank, skipped
    # 24: imported; with ID numbers on, a duplicate of row 3 by ID number
    [19, "2025-03-14", "罗刚", "男", "13712340010", "自然到访", "", "", "", "rep_li", GOOD_ID, "", ""],
    # 25: no channel
    [20, "2025-03-14", "梁雪", "女", "13712340013", "", "", "", "", "李娜", "", "", ""],
    # 26: date in the future
    [21, "2099-01-01", "宋佳", "女", "13712340014", "自然到访", "", "", "", "李娜", "", "", ""],
    # 27: bad gender
    [22, "2025-03-15", "唐宁", "不详X", "13712340015", "自然到访", "", "", "", "李娜", "", "", ""],
]  # fmt: skip


def build() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "客户登记表"
    ws["A1"] = "山水别墅项目 客户登记表（2025年3月）"
    ws.merge_cells("A1:M1")
    ws.append(HEADERS)
    for row, values in enumerate(ROWS, start=3):
        for column, value in enumerate(values or [], start=1):
            if value in ("", None):
                continue
            cell: Cell = ws.cell(row=row, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text as typed, even when it looks like a formula
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd"
    wb.properties.creator = "villa tests"
    wb.properties.created = datetime(*FIXED_TIME)
    raw = io.BytesIO()
    wb.save(raw)
    return _deterministic(raw.getvalue())


def _deterministic(content: bytes) -> bytes:
    """The same bytes every run: fixed zip timestamps and a fixed modified date."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2025-04-01T09:00:00Z\2",
                    data,
                )
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    return out.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT}")
