"""Mail backends that stand in for a mail server: the only thing the tests mock is the
message leaving the process."""

import os
import smtplib
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """A server that refuses every recipient, as SMTP does with a 550."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused(
            {to: (550, b"mailbox unavailable") for m in messages for to in m.to}
        )


class DirectoryBackend(BaseEmailBackend):
    """Each message as a file of its own in the directory DIGEST_TEST_MAILDIR names: what
    several worker processes sent, counted afterwards. Each send takes a moment, as a real
    server's does, so that concurrent runs overlap."""

    def send_messages(self, messages):
        folder = Path(os.environ["DIGEST_TEST_MAILDIR"])
        for message in messages:
            time.sleep(0.05)
            (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        return len(messages)
