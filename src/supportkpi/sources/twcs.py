"""The public "Customer Support on Twitter" dataset (``--format twcs``).

Columns: ``tweet_id, author_id, inbound, created_at, text, response_tweet_id,
in_response_to_tweet_id`` (a leading unnamed index column is ignored).

How tweets become conversations:

- A conversation is a thread that starts at a customer (``inbound``) tweet which answers no
  other tweet; every tweet that answers a tweet of the thread, transitively, belongs to it.
  Its id is ``twcs-<root tweet id>``, its channel ``social``, its customer the root's author.
- The brand is the first non-inbound author to answer in the thread (by time); it becomes the
  conversation's ``team`` and ``vendor``. Brand tweets are agent messages whose author is the
  signature at the end of the tweet (``^JK``, ``-JK``) when there is one, else the brand; the
  conversation's agent is the signature of the last signed brand tweet. Customer tweets are
  customer messages. A thread no brand answers is a conversation without a reply.
- Quarantined, with the reason, rather than guessed at: a record that cannot be parsed
  (wrong number of fields, empty ``inbound``, unreadable time); a tweet answering a tweet that
  is not in the file, and every tweet below it (the thread began outside the file, so its start
  and first response are unknown); a thread started by a brand (brands talking to each other,
  or a brand's own announcement), which is no customer's contact.

The threads are walked in an embedded DuckDB with a memory cap (a recursive query over parent
links), so the full 2.8M-tweet file converts in bounded memory. The result is two Parquet files
(conversations, messages) that load through the usual validation, plus the quarantined rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from supportkpi.sources.files import LINE, SourceError, open_source
from supportkpi.sources.mapping import Mapping

COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
# A signature is ^XX or -XX (letters, 2–4) at the very end of the tweet.
SIGNATURE = r"(?:\^|-)\s?([A-Z][A-Za-z]{1,3})\s*$"


@dataclass(frozen=True)
class Rejected:
    """A tweet that did not become part of a conversation, and why."""

    line: int | None
    rule: str
    reason: str
    raw: str


@dataclass(frozen=True)
class Converted:
    """The canonical files made from a twcs file, and the tweets left out."""

    conversations: Path
    messages: Path
    rejected: list[Rejected]


def convert(
    path: str | Path,
    workdir: Path,
    memory_limit: str = "512MB",
    progress: Callable[[int, int], None] | None = None,
) -> Converted:
    """Turn a twcs CSV into conversations.parquet and messages.parquet in ``workdir``."""
    src = open_source(path, Mapping(), table="messages")
    if src.format != "csv":
        raise SourceError(f"{path}: the twcs format is a CSV file")
    con = duckdb.connect()
    con.execute(
        f"SET memory_limit = '{memory_limit}'; SET TimeZone = 'UTC'; "
        f"SET temp_directory = '{workdir / 'spill'}'; SET enable_progress_bar = false"
    )
    try:
        _stage(con, src, progress or (lambda done, total: None))
        rejected = _reject_malformed(src) + _walk(con)
        conversations, messages = workdir / "conversations.parquet", workdir / "messages.parquet"
        con.execute(f"COPY ({_MESSAGES}) TO '{messages}' (FORMAT parquet)")
        con.execute(f"COPY ({_CONVERSATIONS}) TO '{conversations}' (FORMAT parquet)")
    finally:
        con.close()
    return Converted(conversations, messages, rejected)


def _stage(con: duckdb.DuckDBPyConnection, src, progress) -> None:
    first = True
    for batch in src.batches(progress):
        missing = [c for c in COLUMNS if c not in batch.schema.names]
        if missing:
            raise SourceError(f"{src.path}: not the twcs format; no column {', '.join(missing)}")
        batch = pa.RecordBatch.from_arrays(
            [batch[c] for c in (*COLUMNS, LINE)], names=[*COLUMNS, LINE]
        )
        con.register("__batch", batch)
        con.execute(
            "CREATE TABLE raw AS SELECT * FROM __batch"
            if first
            else "INSERT INTO raw SELECT * FROM __batch"
        )
        con.unregister("__batch")
        first = False
    if first:
        raise SourceError(f"{src.path}: no tweets in the file")


def _reject_malformed(src) -> list[Rejected]:
    return [
        Rejected(
            m.line, "malformed_row", m.reason, json.dumps({"text": m.text}, ensure_ascii=False)
        )
        for m in src.malformed
    ]


_PARSE = f"""
CREATE TABLE tweets AS
SELECT {LINE} AS line, nullif(trim(tweet_id), '') AS id,
       nullif(regexp_replace(trim(in_response_to_tweet_id), '\\.0$', ''), '') AS parent,
       author_id AS author, lower(trim(inbound)) = 'true' AS inbound,
       try_strptime(created_at, '{TIME_FORMAT}') AS sent, text,
       CASE WHEN inbound IS NULL OR lower(trim(inbound)) NOT IN ('true', 'false')
                THEN 'inbound is "' || coalesce(inbound, '') || '", not True or False'
            WHEN try_strptime(created_at, '{TIME_FORMAT}') IS NULL
                THEN 'created_at "' || coalesce(created_at, '') || '" is not a time like '
                     || 'Tue Oct 31 22:10:47 +0000 2017'
            WHEN nullif(trim(tweet_id), '') IS NULL THEN 'tweet_id is empty' END AS problem,
       CASE WHEN inbound IS NULL OR lower(trim(inbound)) NOT IN ('true', 'false')
                THEN 'unknown_value'
            WHEN try_strptime(created_at, '{TIME_FORMAT}') IS NULL THEN 'bad_timestamp'
            ELSE 'missing_value' END AS rule,
       to_json(struct_pack(tweet_id, author_id, inbound, created_at, text, response_tweet_id,
                           in_response_to_tweet_id)) AS raw
FROM raw
"""

_THREADS = """
CREATE TABLE threads AS
WITH RECURSIVE walk(id, root, depth) AS (
    SELECT id, id, 0 FROM tweets WHERE parent IS NULL AND problem IS NULL
    UNION ALL
    SELECT t.id, w.root, w.depth + 1 FROM tweets t JOIN walk w ON t.parent = w.id
    WHERE t.problem IS NULL AND w.depth < 10000
)
SELECT w.id, w.root, t.line, t.author, t.inbound, t.sent, t.text FROM walk w
JOIN tweets t USING (id)
WHERE (SELECT inbound FROM tweets r WHERE r.id = w.root)
"""


def _walk(con: duckdb.DuckDBPyConnection) -> list[Rejected]:
    con.execute(_PARSE)
    con.execute(_THREADS)
    rows = con.execute("""
        SELECT line, rule, problem, raw FROM tweets WHERE problem IS NOT NULL
        UNION ALL
        SELECT t.line, 'outside_thread', CASE
                 WHEN t.parent IS NULL THEN 'the thread starts with a brand tweet (by '
                      || t.author || '), not a customer''s'
                 WHEN NOT EXISTS (SELECT 1 FROM tweets p WHERE p.id = t.parent)
                      THEN 'answers tweet ' || t.parent || ', which is not in the file'
                 ELSE 'belongs to a thread that began outside the file or with a brand' END,
               t.raw
        FROM tweets t
        WHERE t.problem IS NULL AND t.id NOT IN (SELECT id FROM threads)
        ORDER BY 1""").fetchall()
    return [Rejected(line, rule, reason, raw) for line, rule, reason, raw in rows]


_MESSAGES = f"""
SELECT id AS message_id, 'twcs-' || root AS conversation_id, sent AS sent_at,
       CASE WHEN inbound THEN 'customer' ELSE 'agent' END AS author_role,
       CASE WHEN inbound THEN author
            ELSE coalesce(regexp_extract(text, '{SIGNATURE}', 1), author) END AS author_id,
       false AS private, text, line AS {LINE}
FROM threads ORDER BY line
"""

_CONVERSATIONS = f"""
WITH brand AS (
    SELECT root, arg_min(author, sent) AS brand,
           arg_max(nullif(regexp_extract(text, '{SIGNATURE}', 1), ''), sent)
               FILTER (WHERE regexp_extract(text, '{SIGNATURE}', 1) <> '') AS agent
    FROM threads WHERE NOT inbound GROUP BY root
)
SELECT 'twcs-' || t.root AS conversation_id, 'social' AS channel, t.sent AS created_at,
       t.author AS customer_id, b.brand AS vendor, b.brand AS team, b.agent AS agent_id,
       t.line AS {LINE}
FROM threads t LEFT JOIN brand b USING (root)
WHERE t.id = t.root ORDER BY t.line
"""
