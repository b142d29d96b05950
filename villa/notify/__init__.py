"""Staff notifications: reminders that reach the office's own people (never the customers).

An action (a return visit logged at the desk, a dispute decided, the morning digest) writes a
`Notification` for a staff user in its own transaction: that is their inbox entry, the default
channel. For each other channel the user chose (email, the WeCom group robot) it also writes a
`NotificationDelivery`, the outbox row; `villa notify-send` (cron, every minute), the end of
`villa daily` and a best-effort send after the request send them, with retries and back-off.

- messages: writing notifications, the texts they show (masked customer names only)
- digest: each rep's morning digest (villa.home.rep_day)
- preferences: where each user's reminders go; the group robot of their team
- inbox: the bell and the inbox page
- outbox: claiming and sending deliveries, retries, the admin's queue
- channels, mail, wecom: the Notifier interface and its email and group-robot channels
- checks: what the channel settings accept (villa.settings)
"""
