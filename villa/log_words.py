"""The words villa.describe puts log rows into: a title and a sentence per action, the names of
details and settings, and the words for the codes some details hold."""

import re

from villa.i18n import lazy_gettext as _l
from villa.labels import (
    CHANNEL_KIND_LABELS,
    FOLLOWUP_KIND_LABELS,
    GENDER_LABELS,
    ID_TYPE_LABELS,
    PURPOSE_LABELS,
    REVIEW_LABELS,
    ROLE_LABELS,
    STAGE_LABELS,
    VISIT_TYPE_LABELS,
)
from villa.questions import QUESTIONS
from villa.timeline import EVENT_LABELS

# The short name of each action (the log's action column and its filter); the client page's event
# names (villa.timeline) for the actions on a customer's record.
TITLES = {
    **EVENT_LABELS,
    "return_visit": _l("Return visit"),
    "followup_added": _l("Follow-up added"),
    "login": _l("Logged in"),
    "logout": _l("Logged out"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("Temporary password set"),
    "user_created": _l("Account created"),
    "user_changed": _l("Account changed"),
    "user_enabled": _l("Account enabled"),
    "user_disabled": _l("Account disabled"),
    "pledge_published": _l("Confidentiality rules published"),
    "pledge_accepted": _l("Confidentiality rules accepted"),
    "notification_preferences": _l("Reminder settings changed"),
    "notification_retried": _l("Reminder sent again"),
    "rotation_check_in": _l("Rotation: on duty"),
    "rotation_check_out": _l("Rotation: off duty"),
    "rotation_assign": _l("Rotation: walk-in given in turn"),
    "rotation_skip": _l("Rotation: turn skipped"),
    "rotation_available": _l("Rotation: free again"),
    "setting_changed": _l("Setting changed"),
    "channel_added": _l("Channel added"),
    "channel_changed": _l("Channel changed"),
    "channel_deactivated": _l("Channel taken off the list"),
    "channel_reactivated": _l("Channel back on the list"),
    "material_added": _l("Material added"),
    "material_deactivated": _l("Material taken off the list"),
    "backup_made": _l("Backup made"),
    "backup_verified": _l("Restore tested"),
    "keys_rotated": _l("Keys rotated"),
    "legacy_import": _l("Customer register imported"),
    "demo_loaded": _l("Demo data loaded"),
    "correction_rejected": _l("Customer's own correction rejected"),
    "incident_opened": _l("Incident opened"),
    "incident_customers_added": _l("Incident: affected customers added"),
    "incident_notice_changed": _l("Incident: notice changed"),
    "incident_notices_drafted": _l("Incident: notices drafted"),
    "incident_recorded": _l("Incident: handling recorded"),
    "incident_closed": _l("Incident closed"),
    "incident_exported": _l("Incident: customers exported"),
    "reveal": _l("Reveal"),
    "lookup": _l("Lookup"),
    "export": _l("Export"),
}
# One sentence per action. %(who)s is who did it, %(target)s what it was done to (in words); the other
# placeholders are the row's details by name, in words. Details a sentence does not name are listed
# after it, each as "what: value" or "what: from … to …".
SENTENCES = {
    # A customer's record.
    "registered": _l("%(who)s registered the customer for %(owner)s (source: %(channel)s)"),
    "return_visit": _l("%(who)s logged the customer's return visit"),
    "followup_added": _l("%(who)s added a follow-up (%(reached)s)"),
    "materials_given": _l("%(who)s handed over %(materials)s"),
    "sensitive_consent": _l(
        "%(who)s recorded the customer's separate consent to storing ID and financial details"
    ),
    "review_approved": _l("%(who)s approved the registration (%(level)s)"),
    "review_rejected": _l("%(who)s rejected the registration (%(level)s): %(reason)s"),
    "resubmitted": _l("%(who)s sent the registration back to review"),
    "released_to_pool": _l("The protection held by %(from)s ended: the customer went to the public pool"),
    "pool_claimed": _l("%(who)s claimed the customer from the public pool"),
    "pool_taken": _l("%(who)s took the customer from the public pool at the desk, for %(owner)s"),
    "reassigned": _l("%(who)s moved the customer from %(from)s to %(to)s: %(reason)s"),
    "handed_over": _l("%(who)s handed the customer over from %(from)s, who left, to %(to)s"),
    "transferred": _l("%(who)s moved the customer from %(from)s to %(to)s with others: %(reason)s"),
    "pool_handed_out": _l("%(who)s gave the public pool's customer to %(owner)s at the desk"),
    "source_corrected": _l("%(who)s corrected where the customer came from"),
    "dispute_opened": _l("%(who)s opened dispute %(dispute)s over the customer"),
    "dispute_decided": _l("%(who)s decided dispute %(dispute)s: %(decision)s (owner now %(owner)s)"),
    "dispute_superseded": _l(
        "%(who)s closed dispute %(dispute)s: the customer had changed owner since (now %(owner)s)"
    ),
    "merged": _l("%(who)s merged customer %(from)s into this one, taking %(fields)s"),
    "merged_into": _l("%(who)s merged this customer into customer %(into)s"),
    "merge_undone": _l("%(who)s undid merge %(merge)s (the other record: customer %(other)s)"),
    "archived": _l("%(who)s archived the customer (%(reason)s)"),
    "anonymised": _l("%(who)s erased the customer's personal data (%(reason)s)"),
    "correction_link_created": _l("%(who)s made a self-service correction link, valid until %(expires_at)s"),
    "correction_applied": _l("%(who)s applied the customer's own correction of %(fields)s"),
    "correction_rejected": _l("%(who)s rejected the customer's own correction of %(fields)s"),
    # Deals (villa.deals).
    "deal_recorded": _l("%(who)s recorded a deal: %(deal)s"),
    "deal_confirmed": _l("%(who)s confirmed the deal: %(deal)s"),
    "deal_cancelled": _l("%(who)s cancelled the deal (退筹/退房): %(deal)s; reason: %(reason)s"),
    # Changes of fields: one sentence per field (see _field_sentences).
    "field_changed": _l("%(who)s changed the customer's details"),
    "stage_changed": _l("%(who)s changed the stage"),
    "grade_changed": _l("%(who)s changed the intent grade"),
    # People and their sessions.
    "login": _l("%(who)s logged in"),
    "logout": _l("%(who)s logged out"),
    "password_changed": _l("%(who)s changed their password"),
    "password_reset": _l("%(who)s gave %(target)s a temporary password, to be changed at the next login"),
    "user_created": _l("%(who)s created the account of %(target)s (%(role)s)"),
    "user_changed": _l("%(who)s changed the account of %(target)s"),
    "user_enabled": _l("%(who)s enabled the account of %(target)s"),
    "user_disabled": _l("%(who)s disabled the account of %(target)s"),
    "pledge_published": _l("%(who)s published version %(version)s of the confidentiality rules"),
    "pledge_accepted": _l("%(who)s accepted version %(version)s of the confidentiality rules"),
    "notification_preferences": _l("%(who)s changed where their reminders go"),
    "notification_retried": _l("%(who)s sent a staff reminder again"),
    # The walk-in rotation.
    "rotation_check_in": _l("%(who)s put %(target)s on today's rotation"),
    "rotation_check_out": _l("%(who)s took %(target)s off today's rotation"),
    "rotation_assign": _l("%(who)s gave a walk-in to %(target)s, whose turn it was"),
    "rotation_skip": _l("%(who)s skipped the turn of %(target)s in the rotation (%(reason)s)"),
    "rotation_out_of_turn": _l("%(who)s gave a walk-in to %(target)s out of turn (%(reason)s)"),
    "customers_handed_over": _l("%(who)s moved %(count)s customers (%(destination)s)"),
    "rotation_available": _l("%(who)s marked %(target)s free again in the rotation"),
    # Settings, channels, materials.
    "setting_changed": _l("%(who)s changed the setting “%(target)s”"),
    "channel_added": _l("%(who)s added the source channel %(name)s (%(kind)s)"),
    "channel_changed": _l("%(who)s changed the source channel %(target)s"),
    "channel_deactivated": _l("%(who)s took the source channel %(target)s off the desk's list"),
    "channel_reactivated": _l("%(who)s put the source channel %(target)s back on the desk's list"),
    "material_added": _l("%(who)s added the material %(name)s"),
    "material_deactivated": _l("%(who)s took the material %(name)s off the desk's list"),
    # Keeping the data.
    "backup_made": _l("%(who)s made the backup %(target)s (%(customers)s customers)"),
    "backup_verified": _l("%(who)s tested a restore of the backup %(target)s: %(ok)s"),
    "keys_rotated": _l("%(who)s finished rotating the %(kind)s (now version %(version)s)"),
    "legacy_import": _l(
        "%(who)s imported a customer register: %(imported)s imported, %(duplicate)s duplicates, "
        "%(invalid)s refused"
    ),
    "demo_loaded": _l("Demo data loaded: %(users)s users, %(customers)s customers"),
    # Incidents.
    "incident_opened": _l("%(who)s opened %(target)s (found %(found_at)s)"),
    "incident_customers_added": _l("%(who)s added %(added)s affected customers to %(target)s"),
    "incident_notice_changed": _l("%(who)s changed the customer notice of %(target)s"),
    "incident_notices_drafted": _l(
        "%(who)s drafted %(drafted)s notices for %(target)s (%(no_phone)s customers without a phone)"
    ),
    "incident_recorded": _l("%(who)s recorded the handling of %(target)s: %(changed)s"),
    "incident_closed": _l("%(who)s closed %(target)s (%(affected)s customers affected)"),
    "incident_exported": _l("%(who)s exported the %(customers)s affected customers of %(target)s"),
}
ACCESS_SENTENCES = {
    "reveal": _l("%(who)s revealed the full %(fields)s of the customer"),
    "lookup": _l("%(who)s found the customer by the exact %(fields)s (not their own customer)"),
    "export": _l("%(who)s exported %(what)s"),
}
FIELD_CHANGE = _l("%(who)s changed %(field)s from %(old)s to %(new)s")
FIELD_CHANGED_HIDDEN = _l("%(who)s changed %(field)s (the value is not recorded)")
DETAIL = _l("%(what)s: %(value)s")
DETAIL_CHANGE = _l("%(what)s: from %(old)s to %(new)s")
UNKNOWN_ACTION = _l("%(who)s made a change of a kind this page cannot name")
# Actions whose details are changes of fields, each told as "who changed what from … to …".
FIELD_ACTIONS = ("field_changed", "stage_changed", "grade_changed", "source_corrected")

# The names of the details rows carry (customer fields have theirs in villa.profile).
DETAIL_LABELS = {
    "stage": _l("Stage"),
    "grade": _l("Intent grade"),
    "lost_reason": _l("Reason lost"),
    "review": _l("Review"),
    "owner": _l("Owner"),
    "channel": _l("Source channel"),
    "from": _l("From"),
    "to": _l("To"),
    "into": _l("Into"),
    "reason": _l("Reason"),
    "skipped": _l("Passed over"),
    "destination": _l("Moved"),
    "count": _l("Customers"),
    "given": _l("Given to"),
    "deal": _l("Deal"),
    "level": _l("Review level"),
    "dispute": _l("Dispute"),
    "decision": _l("Decision"),
    "fields": _l("Fields"),
    "merge": _l("Merge"),
    "other": _l("Other record"),
    "materials": _l("Materials"),
    "followup": _l("Follow-up"),
    "reached": _l("Reached the customer"),
    "corrects": _l("Correcting follow-up"),
    "expires_at": _l("Valid until"),
    "role": _l("Role"),
    "manager": _l("Manager"),
    "display_name": _l("Name"),
    "active": _l("Active"),
    "must_change_password": _l("Must change the password"),
    "name": _l("Name"),
    "code": _l("Code"),
    "kind": _l("Kind"),
    "protection_days": _l("Protection (days)"),
    "content_type": _l("File type"),
    "version": _l("Version"),
    "characters": _l("Characters"),
    "found_at": _l("Found on"),
    "added": _l("Added"),
    "drafted": _l("Drafted"),
    "no_phone": _l("Without a phone"),
    "changed": _l("Changed"),
    "affected": _l("Affected customers"),
    "customers": _l("Customers"),
    "copied": _l("Second copy made"),
    "ok": _l("Restored correctly"),
    "users": _l("Users"),
    "not_reindexed": _l("Not re-indexed (duplicates)"),
    "choices": _l("Reminders by"),
    "email": _l("Email address"),
    "wecom_user_id": _l("WeCom user ID"),
    "source": _l("Found through"),
    "user": _l("User"),
    "found": _l("Customers found"),
    "exports_without_customers": _l("Exports without customers"),
    "lines": _l("Lines"),
    "bad_lines": _l("Unreadable lines"),
    "not_found": _l("Not found"),
    "imported": _l("Imported"),
    "duplicate": _l("Duplicates"),
    "invalid": _l("Refused"),
    "sensitive_consent": _l("Separate consent"),
    "measures": _l("Measures taken"),
    "reported_at": _l("Reported on"),
    "reported_to": _l("Reported to"),
    "responsible": _l("Held responsible"),
    # Parts of mapping settings.
    "local_max_homes_owned": _l("Local household: homes it may already own"),
    "nonlocal_min_months": _l("Non-local household: months of social insurance or tax needed"),
    "nonlocal_max_homes_owned": _l("Non-local household: homes it may already own"),
    "rejection": _l("Rejection message"),
    "approval": _l("Approval message"),
    "host": _l("Server address"),
    "port": _l("Port"),
    "security": _l("Security"),
    "username": _l("User name"),
    "sender": _l("Sender"),
}
SETTING_LABELS = {
    "protection_days_visit": _l("Protection after a walk-in visit (days)"),
    "protection_days_call": _l("Protection after a phone call (days)"),
    "pool_quota": _l("Customers a rep may claim from the public pool"),
    "privacy_notice_text": _l("Privacy notice"),
    "privacy_notice_version": _l("Privacy notice version"),
    "eligibility_rules": _l("Purchase eligibility"),
    "rejection_reasons": _l("Rejection reasons"),
    "review_checklist": _l("Review checklist"),
    "message_templates": _l("Messages to customers"),
    "notify_on_approval": _l("Send the approval message"),
    "retention_years": _l("Anonymise inactive customers after (years)"),
    "backups_daily": _l("Daily backups kept"),
    "backups_weekly": _l("Weekly backups kept"),
    "backups_monthly": _l("Monthly backups kept"),
    "backup_copy_dir": _l("Second folder for each backup"),
    "backup_age_limit_hours": _l("Backup age warning (hours)"),
    "restore_test_weekday": _l("Weekly restore test on"),
    "incident_message_template": _l("Incident notice"),
    "correction_link_hours": _l("Correction links work for (hours)"),
    "lookup_limit_per_minute": _l("Exact lookups a minute"),
    "lookup_limit_per_day": _l("Exact lookups a day"),
    "masked_phone": _l("Masked phone numbers show"),
    "masked_id_number": _l("Masked ID numbers show"),
    "alert_reveals_per_day": _l("Alert above reveals a day"),
    "alert_lookups_per_day": _l("Alert above lookups a day"),
    "alert_exports_per_day": _l("Alert above exports a day"),
    "smtp": _l("Mail server"),
    "smtp_password": _l("Mail server password"),
    "wecom_webhook": _l("WeCom group robot"),
    **{setting: label for setting, label in QUESTIONS.values()},
}
# Codes that stand in some details, by the detail's name.
VALUE_WORDS = {
    "stage": STAGE_LABELS,
    "purpose": PURPOSE_LABELS,
    "gender": GENDER_LABELS,
    "id_type": ID_TYPE_LABELS,
    "role": ROLE_LABELS,
    "visit_type": VISIT_TYPE_LABELS,
    "review": {**REVIEW_LABELS, "resubmitted": _l("sent back to review")},
    "level": {1: _l("sales manager's review"), 2: _l("audit team's review")},
    "decision": {
        "keep_owner": _l("the owner keeps the customer"),
        "to_claimant": _l("the customer goes to the claimant"),
    },
    "reason": {
        "inactive_signed": _l("signed, no activity since"),
        "retention": _l("retention period passed"),
        "busy": _l("with a customer"),
        "away": _l("away"),
        "customer_choice": _l("the customer asked for this rep"),
        "referral": _l("referred by an existing customer"),
        "language": _l("language"),
        "other": _l("other"),
    },
    "kind": {
        **CHANNEL_KIND_LABELS,
        **FOLLOWUP_KIND_LABELS,
        "data": _l("data key"),
        "index": _l("blind-index key"),
    },
    "destination": {
        "rep": _l("to one rep"),
        "team": _l("spread over the team"),
        "pool": _l("to the public pool"),
    },
    "source": {"access_log": _l("the access log"), "phone_list": _l("a list of phone numbers")},
    "security": {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": _l("none")},
    "masked_phone": {"standard": "138****8000", "last_four": "*******8000"},
    "masked_id_number": {"standard": "1101**********733X", "last_four": "**************733X"},
}
NOT_RECORDED = {
    "changed": _l("changed (value not recorded)"),
    "removed": _l("removed"),
    "recorded": _l("recorded"),
}
UNSAID = ("code",)  # a channel's code: its name says it
ERASURE_PREFIX = "erasure request: "  # as villa.retention.erase writes it
USER_DETAILS = ("owner", "from", "to", "manager", "skipped")
CUSTOMER_DETAILS = ("into", "other")
TARGETS = {
    "customer": _l("customer #%(id)s"),
    "incident": _l("incident #%(id)s"),
    "import": _l("import #%(id)s"),
    "pledge": _l("version %(id)s"),
    "correction_link": _l("link #%(id)s"),
    "change_request": _l("correction #%(id)s"),
    "notification_delivery": _l("reminder #%(id)s"),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
ANALYTICS_TABLES = {
    "registrations_by_channel": _l("registrations by channel"),
    "registrations_by_type": _l("registrations by visit or call"),
    "funnel": _l("the funnel"),
    "channels": _l("channel effectiveness"),
    "grades": _l("the grade mix"),
    "grade_moves": _l("grade changes"),
    "visits": _l("visits"),
    "pool": _l("the public pool"),
    "reps": _l("the sales reps' ranking"),
}
