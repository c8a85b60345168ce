"""Mail backends that stand in for a mail server: the only thing the tests mock is the
message leaving the process."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """A server that refuses every recipient, as SMTP does with a 550."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused(
            {to: (550, b"mailbox unavailable") for m in messages for to in m.to}
        )
