"""The demo's vendor invoices and revenue events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from supportkpi.demo.model import START, VENDORS, ids, timestamps


def costs(days: int) -> pa.Table:
    """Monthly invoices per vendor, by calendar month: the first and last straddle the data."""
    end = START + timedelta(days=days)
    months = []
    m = datetime(START.year, START.month, 1, tzinfo=UTC)
    while m < end:
        nxt = datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=UTC)
        months.append((m, nxt))
        m = nxt
    rows = [
        (v.name, a, b, float(v.monthly_cost), "EUR", "invoice") for v in VENDORS for a, b in months
    ]
    names = ("vendor", "period_start", "period_end", "amount", "currency", "kind")
    cols = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(c) for n, c in zip(names, cols, strict=True)})


def revenue(rng: np.random.Generator, conv: dict[str, np.ndarray], days: int) -> pa.Table:
    customers = np.unique(conv["customer"])
    n_purchases = rng.poisson(days / 45, len(customers))
    who = np.repeat(customers, n_purchases)
    when = rng.uniform(0, days * 86400, len(who))
    kind = np.full(len(who), "purchase", dtype=object)
    amount = np.round(rng.lognormal(np.log(60), 0.6, len(who)), 2)
    # upsells and cross-sells shortly after a resolved conversation
    sold = np.flatnonzero(conv["resolved"] & (rng.random(len(conv["offset"])) < 0.04))
    sell_kind = np.where(rng.random(len(sold)) < 0.6, "upsell", "cross_sell")
    churned = customers[rng.random(len(customers)) < 0.03]
    table = pa.table(
        {
            "customer_id": np.char.add(
                "cust-", np.concatenate([who, conv["customer"][sold], churned]).astype(str)
            ),
            "occurred_at": timestamps(
                np.concatenate(
                    [
                        when,
                        conv["offset"][sold] + rng.uniform(600, 3 * 86400, len(sold)),
                        rng.uniform(0, days * 86400, len(churned)),
                    ]
                )
            ),
            "amount": np.concatenate(
                [
                    amount,
                    np.round(rng.lognormal(np.log(40), 0.5, len(sold)), 2),
                    np.zeros(len(churned)),
                ]
            ),
            "kind": np.concatenate([kind, sell_kind, np.full(len(churned), "churn")]).astype(str),
            "conversation_id": pa.array(
                np.concatenate(
                    [
                        np.full(len(who), None),
                        ids("c", len(conv["offset"]))[sold],
                        np.full(len(churned), None),
                    ]
                )
            ),
        }
    )
    return table.add_column(0, "event_id", pa.array(ids("r", table.num_rows)))
