"""Notifications by e-mail and a signed webhook through a transactional outbox (issue 19 item 5).

An event (a step becoming due, a request returned, a delivery ready) queues its messages in the
`notifications` table in the transaction that records the event, so a message exists exactly when
the event does. A periodic job sends what is pending over SMTP (and POSTs each webhook twin),
claiming each row first, and marks it sent only after the server accepted it; others add the
reminders (half the step's time standard), escalations (the step overdue), purge warnings (two
days before a delivery is purged) and the officials' daily digest. A unique dedupe key makes each
notification once.
"""
