"""Notifications by e-mail through a transactional outbox (issue 19 item 5).

An event (a step becoming due, a request returned, a delivery ready) queues its messages in the
`notifications` table in the transaction that records the event, so a message exists exactly when
the event does. A periodic job sends what is pending over SMTP, claiming each row first, and
marks it sent only after the server accepted it; another adds the reminders (half the step's
time standard) and escalations (the step overdue). A unique dedupe key makes each notification
once.
"""
