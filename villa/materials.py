"""Sales materials (户型图, 价目表): the admin's list, the files, and what the desk handed over."""

import json
import os
import secrets
from pathlib import Path

from flask import current_app
from peewee import fn
from werkzeug.datastructures import FileStorage

from villa.db import write_transaction
from villa.i18n import lazy_gettext as _l
from villa.models import AuditLog, Customer, Material, MaterialGiven, User, office_day_start
from villa.prepared import Prepared, slot

UPLOAD_TYPES = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
MAGIC = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_FILE_BYTES = 10 * 1024 * 1024
NAME_MAX = 60


class MaterialRejected(ValueError):
    """The input cannot become a material; `field` names the form field the message belongs to."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field, self.message = field, message


def materials_dir() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "materials"


_active = Prepared(
    lambda: Material.select().where(Material.active == slot()).order_by(Material.sort_order, Material.id)
)


def active_materials() -> list[Material]:
    return list(_active.rows(True))


def stored_path(material: Material) -> Path | None:
    """The material's file on disk, or None when it has none (or the name would leave the folder)."""
    if not material.filename:
        return None
    folder = materials_dir().resolve()
    path = (folder / material.filename).resolve()
    if path.parent != folder or not path.is_file():
        return None
    return path


def add_material(name: str, upload: FileStorage | None, actor: User) -> Material:
    """Check the name and the file, store the file under a name of ours, and list the material."""
    name = (name or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise MaterialRejected("name", _l("Give a name of 1 to %(max)d characters.", max=NAME_MAX))
    content, content_type = _read_upload(upload) if upload else (None, "")
    path = _store(content, content_type) if content is not None else None
    try:
        with write_transaction():
            last = Material.select(fn.MAX(Material.sort_order)).scalar()
            material = Material.create(
                name=name,
                filename=path.name if path else "",
                content_type=content_type,
                sort_order=(last or 0) + 1,
            )
            _audit(actor, "material_added", material, {"name": name, "content_type": content_type})
    except Exception:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return material


def _read_upload(upload: FileStorage) -> tuple[bytes, str]:
    content_type = upload.mimetype
    if content_type not in UPLOAD_TYPES:
        raise MaterialRejected("upload", _l("Upload a PDF, PNG or JPEG file."))
    content = upload.stream.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise MaterialRejected("upload", _l("The file is larger than 10 MB."))
    # The browser's content type is only a claim: the first bytes must agree with it.
    if not content.startswith(MAGIC[content_type]):
        raise MaterialRejected("upload", _l("The file is not the PDF, PNG or JPEG it claims to be."))
    return content, content_type


def _store(content: bytes, content_type: str) -> Path:
    folder = materials_dir()
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}{UPLOAD_TYPES[content_type]}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    return path


def deactivate(material: Material, actor: User) -> Material:
    """Take a material off the desk's list; the row and file stay, handovers point at them."""
    with write_transaction():
        Material.update(active=False).where(Material.id == material.id).execute()
        material.active = False
        _audit(actor, "material_deactivated", material, {"name": material.name})
    return material


_handed_to = Prepared(
    lambda: (
        MaterialGiven.select(
            MaterialGiven, Material.name.alias("material_name"), User.display_name.alias("given_by_name")
        )
        .join(Material)
        .switch(MaterialGiven)
        .join(User, on=(MaterialGiven.given_by == User.id))
        .where(MaterialGiven.customer == slot())
        .order_by(MaterialGiven.given_at.desc())
    )
)


def handed_to(customer: Customer) -> list[MaterialGiven]:
    """What this customer was given, newest first, with the material and who handed it over."""
    return list(_handed_to.rows(customer.id))


def record_handover(customer: Customer, material_ids: list[int], actor: User) -> list[MaterialGiven]:
    """Record the active materials given to the customer today, once each; other ids are ignored."""
    wanted = {int(i) for i in material_ids if str(i).isdigit()}
    if not wanted:
        return []
    with write_transaction():
        already = {
            row.material_id
            for row in MaterialGiven.select(MaterialGiven.material).where(
                MaterialGiven.customer == customer,
                MaterialGiven.given_at >= office_day_start(),
                MaterialGiven.material.in_(wanted),
            )
        }
        materials = [m for m in active_materials() if m.id in wanted - already]
        given = [MaterialGiven.create(customer=customer, material=m, given_by=actor) for m in materials]
        if given:
            AuditLog.on_customer(
                customer, actor, "materials_given", {"materials": [g.material_id for g in given]}
            )
    return given


def _audit(actor: User, action: str, material: Material, changes: dict):
    AuditLog.create(
        actor=actor,
        action=action,
        target=f"material:{material.id}",
        changes=json.dumps(changes, ensure_ascii=False),
    )
