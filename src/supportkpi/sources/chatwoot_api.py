"""Reading a Chatwoot account through its REST API: inboxes, every conversation page by page,
each conversation's messages (newest first, then ``before=`` the oldest seen), and the CSAT
survey responses, as canonical records (:mod:`supportkpi.sources.chatwoot` maps them).

Requests send the account's access token in Chatwoot's ``api_access_token`` header. With
``since``, only conversations active since then (by ``last_activity_at``) and survey responses
since then are read; Chatwoot lists conversations most recently active first, so paging stops
at the first page with none that recent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from supportkpi.sources import chatwoot

Progress = Callable[[str, int], None]
"""Called with (what is being read, how many so far)."""


class ChatwootApiError(RuntimeError):
    """Chatwoot could not be read: unreachable, a refused token, an unexpected answer."""


@dataclass
class Imported:
    """What an import read: canonical records per table."""

    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"conversations": [], "messages": [], "surveys": []}
    )


class Client:
    """GET requests to one Chatwoot account's API."""

    def __init__(self, url: str, account: int | str, token: str, timeout: float = 30) -> None:
        self.base = f"{url.rstrip('/')}/api/v1/accounts/{account}"
        self.account = account
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **params: Any) -> Any:
        """One page, as JSON."""
        query = urllib.parse.urlencode(sorted((k, v) for k, v in params.items() if v is not None))
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(
            url, headers={"api_access_token": self.token, "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            hint = " (check --token and --account)" if exc.code in (401, 403, 404) else ""
            raise ChatwootApiError(f"Chatwoot answered {exc.code} for {url}{hint}") from None
        except (urllib.error.URLError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChatwootApiError(f"cannot reach Chatwoot at {url}: {reason}") from None
        except json.JSONDecodeError:
            raise ChatwootApiError(f"Chatwoot's answer for {url} is not JSON") from None


def read_account(
    client: Client,
    since: datetime | None = None,
    vendor: str | None = None,
    progress: Progress | None = None,
) -> Imported:
    """Every conversation (active since ``since``), its messages and the CSAT responses."""
    report = progress or (lambda what, n: None)
    out = Imported()
    inboxes = {i["id"]: i.get("name") for i in client.get("/inboxes").get("payload", [])}
    cutoff = since.timestamp() if since else None
    for c in _conversations(client, cutoff):
        out.records["conversations"].append(
            chatwoot.api_conversation(client.account, c, inboxes, vendor)
        )
        for m in _messages(client, c["id"]):
            out.records["messages"].append(chatwoot.message_record(client.account, m, c["id"]))
        report("conversations", len(out.records["conversations"]))
    for s in _pages(client, "/csat_survey_responses", lambda page: page, since=cutoff):
        out.records["surveys"].append(chatwoot.api_survey(client.account, s))
    report("survey responses", len(out.records["surveys"]))
    return out


def _pages(
    client: Client, path: str, items: Callable[[Any], list[Any]], **params: Any
) -> Iterator[Any]:
    page = 1
    while True:
        found = items(client.get(path, page=page, **{k: _int(v) for k, v in params.items()}))
        if not found:
            return
        yield from found
        page += 1


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) else value


def _conversations(client: Client, cutoff: float | None) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        answer = client.get("/conversations", page=page, status="all", assignee_type="all")
        found = answer.get("data", {}).get("payload", [])
        recent = [c for c in found if cutoff is None or _last(c) >= cutoff]
        yield from recent
        if not found or not recent:
            return
        page += 1


def _last(c: dict[str, Any]) -> float:
    return float(c.get("last_activity_at") or c.get("timestamp") or 0)


def _messages(client: Client, display_id: Any) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    before = None
    while True:
        page = client.get(f"/conversations/{display_id}/messages", before=before)
        found = page.get("payload", [])
        if not found:
            break
        seen |= {m["id"]: m for m in found}
        before = min(m["id"] for m in found)
    return [seen[k] for k in sorted(seen)]
