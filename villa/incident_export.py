"""An incident's record as .xlsx, for the file and for the authority: the facts, the affected
customers (masked: the record is about them, it does not hand out their data again) and every step
taken. Cells are neutralised against formula injection; each export writes an access-log row."""

import json

from openpyxl import Workbook

from villa import settings
from villa.alerts import note_access
from villa.db import db
from villa.identity import mask_name, mask_phone
from villa.incidents import affected, history
from villa.labels import office_time
from villa.models import AccessLog, AuditLog, Incident, User
from villa.transfer import safe_row

SOURCES = {"access_log": "访问日志", "phone_list": "电话名单"}
NOTICE_STATES = {"to_send": "待人工发送", "sent": "已发送", "failed": "发送失败"}
STEPS = {
    "incident_opened": "登记事件",
    "incident_customers_added": "加入受影响客户",
    "incident_notice_changed": "修改告知短信",
    "incident_notices_drafted": "生成告知短信",
    "incident_recorded": "记录处置情况",
    "incident_closed": "结案",
    "incident_exported": "导出记录",
}


def export_incident(incident: Incident, exporter: User, target, ip: str = "") -> int:
    """Write the record to `target` (a path or file); returns the number of affected customers."""
    book = Workbook(write_only=True)
    _facts(book.create_sheet("事件"), incident)
    count = _customers(book.create_sheet("受影响客户"), incident)
    _steps(book.create_sheet("处理记录"), incident)
    book.save(target)
    with db.atomic():
        AccessLog.create(
            actor=exporter, action="export", fields=f"incident:{incident.id}", ip=(ip or "")[:45]
        )
        AuditLog.create(actor=exporter, action="incident_exported", target=f"incident:{incident.id}",
                        changes=json.dumps({"customers": count}))  # fmt: skip
    note_access(exporter, "export")
    return count


def _when(value) -> str:
    return f"{office_time(value):%Y-%m-%d %H:%M}" if value else ""


def _facts(sheet, incident: Incident):
    rows = [
        ["事件编号", incident.id],
        ["事件经过", incident.what],
        ["发现时间（北京时间）", _when(incident.found_at)],
        ["怀疑范围", incident.suspected_scope],
        ["登记人", incident.opened_by.display_name],
        ["登记时间", _when(incident.opened_at)],
        ["告知短信内容", incident.message_template],
        ["已采取的措施", incident.measures],
        ["向主管部门报告时间", _when(incident.reported_at)],
        ["报告对象", incident.reported_to],
        ["责任认定", incident.responsible],
        ["结案时间", _when(incident.closed_at)],
        ["结案人", incident.closed_by.display_name if incident.closed_by_id else ""],
    ]
    for row in rows:
        sheet.append(safe_row(sheet, row))


def _customers(sheet, incident: Incident) -> int:
    sheet.append(
        safe_row(sheet, ["客户编号", "姓名（脱敏）", "电话（脱敏）", "来源", "加入时间", "告知短信"])
    )
    keep_head, count = settings.masking()["phone"], 0
    for entry in affected(incident).iterator():
        customer, message = entry.customer, entry.message if entry.message_id else None
        sheet.append(
            safe_row(
                sheet,
                [
                    customer.id,
                    mask_name(customer.name) if customer.name else "",
                    mask_phone(customer.phone, keep_head) if customer.phone else "",
                    SOURCES.get(entry.source, entry.source),
                    _when(entry.added_at),
                    NOTICE_STATES.get(message.status, message.status) if message else "未生成",
                ],
            )
        )
        count += 1
    return count


def _steps(sheet, incident: Incident):
    sheet.append(safe_row(sheet, ["时间", "操作人", "步骤", "详情"]))
    for entry in history(incident):
        who = entry.actor.display_name if entry.actor_id else ""
        sheet.append(
            safe_row(sheet, [_when(entry.at), who, STEPS.get(entry.action, entry.action), entry.changes])
        )
