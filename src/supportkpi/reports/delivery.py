"""Sending an alert: a JSON POST to a webhook (its ``text`` is what Slack, Mattermost and
Teams' Slack-compatible hooks show) or an e-mail through SMTP, each tried again with a growing
pause when it fails. Standard library only (``urllib``, ``smtplib``): nothing to install for
the two ways every company can receive a message.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

from supportkpi.config import Email, Notify, Webhook


class DeliveryError(RuntimeError):
    """One attempt at delivering failed; the message says why."""


def post_webhook(hook: Webhook, payload: dict[str, Any]) -> None:
    """POST ``payload`` as JSON; anything but a 2xx answer is a failure."""
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        hook.url, body, {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"{hook.url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{hook.url}: {getattr(exc, 'reason', exc)}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"{hook.url} answered {status}")


Attachment = tuple[str, str, bytes]  # file name, content type ("text/html"), content


def send_email(
    mail: Email, subject: str, body: str, attachments: Sequence[Attachment] = ()
) -> None:
    """Mail ``subject`` and ``body`` (and files) to every address of ``mail``."""
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, mail.sender, ", ".join(mail.to)
    message.set_content(body)
    for name, content_type, data in attachments:
        main, _, sub = content_type.partition("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    password = os.environ.get(mail.password_env) if mail.password_env else None
    if mail.username and password is None:
        raise DeliveryError(f"no password: set ${mail.password_env or '(password_env)'}")
    try:
        context = ssl.create_default_context(cafile=mail.ca_file)
        if mail.ssl:
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                mail.host, mail.port, timeout=mail.timeout, context=context
            )
        else:
            server = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        with server:
            if mail.starttls:
                server.starttls(context=context)
            if mail.username:
                server.login(mail.username, password or "")
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{mail.host}:{mail.port}: {exc}") from None


def deliver(
    notify: Notify,
    channel: str,
    payload: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, str | None]:
    """Send ``payload`` to ``channel``, trying again ``notify.retries`` times with a doubling
    pause: (sent, attempts made, last error)."""
    return with_retries(notify, lambda: _send_once(notify, channel, payload), sleep)


def with_retries(
    notify: Notify, action: Callable[[], None], sleep: Callable[[float], None] = time.sleep
) -> tuple[bool, int, str | None]:
    """Run ``action`` until it raises no :class:`DeliveryError`, at most ``notify.retries``
    more times, pausing ``retry_delay`` seconds and doubling: (sent, attempts, last error)."""
    error = None
    for attempt in range(notify.retries + 1):
        if attempt:
            sleep(notify.retry_delay * 2 ** (attempt - 1))
        try:
            action()
            return True, attempt + 1, None
        except DeliveryError as exc:
            error = str(exc)
    return False, notify.retries + 1, error


def _send_once(notify: Notify, channel: str, payload: dict[str, Any]) -> None:
    if channel in notify.webhooks:
        post_webhook(notify.webhooks[channel], payload)
    elif channel in notify.email:
        send_email(notify.email[channel], payload["text"], payload["details"])
    else:
        raise DeliveryError(f"no channel {channel!r} under [notify] any more")
