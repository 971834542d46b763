"""What each engine can do with the registry's expressions, and the rewrites that make them run.

The registry states every KPI once, backend-neutrally: a median and a p90 are exact,
linearly interpolated quantiles, and a duration's two come from one aggregate (on DuckDB the
values are then sorted once for both). Engines differ in what they have:

==========  ==========================================================================
strategy    engines
==========  ==========================================================================
shared      DuckDB: both quantiles from one exact aggregate, as declared
exact       PostgreSQL, Spark (PySpark, Databricks), Snowflake: each quantile its own
            exact aggregate (``PERCENTILE_CONT`` / ``PERCENTILE``)
approximate BigQuery and Trino have no exact quantile aggregate: their approximate one is
            used, and every report says so in its notes, never silently
==========  ==========================================================================
"""

from __future__ import annotations

from typing import Any, Literal

import ibis.expr.operations as ops
import ibis.expr.types as ir

__all__ = ["APPROXIMATE_NOTE", "Strategy", "approximates", "portable", "quantile_strategy"]

Strategy = Literal["shared", "exact", "approximate"]

_STRATEGIES: dict[str, Strategy] = {
    "duckdb": "shared",
    "postgres": "exact",
    "pyspark": "exact",
    "databricks": "exact",
    "spark": "exact",
    "snowflake": "exact",
    "bigquery": "approximate",
    "trino": "approximate",
}

APPROXIMATE_NOTE = (
    "median and p90 are approximate on {engine}: it has no exact quantile aggregate "
    "(means, counts and rates are exact)"
)


def quantile_strategy(engine: str) -> Strategy:
    """How quantiles are computed on ``engine`` (an Ibis backend or SQL dialect name);
    engines not listed get one exact aggregate per quantile."""
    return _STRATEGIES.get(engine, "exact")


def approximates(engine: str) -> bool:
    """Whether medians and percentiles are approximate on ``engine``."""
    return quantile_strategy(engine) == "approximate"


def portable(expr: ir.Table, engine: str) -> ir.Table:
    """``expr`` rewritten for ``engine``'s quantile strategy (unchanged on DuckDB)."""
    strategy = quantile_strategy(engine)
    if strategy == "shared":
        return expr

    def rewrite(node: ops.Node, kwargs: dict[str, Any] | None, **_: Any) -> ops.Node:
        if kwargs is None:
            kwargs = {}
        if isinstance(node, ops.ArrayIndex) and isinstance(node.arg, ops.MultiQuantile):
            multi = kwargs.get("arg", node.arg)
            index = node.index.value  # type: ignore[attr-defined]
            quantile = multi.quantile.value[index]  # type: ignore[attr-defined]
            return _one(multi.arg, quantile, multi.where, strategy)
        if strategy == "approximate" and isinstance(node, ops.Median | ops.Quantile):
            arg = kwargs.get("arg", node.arg)
            where = kwargs.get("where", node.where)
            quantile = 0.5 if isinstance(node, ops.Median) else node.quantile.value  # type: ignore[attr-defined]
            return _one(arg, quantile, where, strategy)
        return node.__recreate__(kwargs) if kwargs else node

    return expr.op().replace(rewrite).to_expr()


def _one(arg: ops.Value, quantile: float, where: ops.Value | None, strategy: Strategy) -> ops.Node:
    if strategy == "approximate":
        return ops.ApproxQuantile(arg, quantile, where=where)
    return ops.Quantile(arg, quantile, where=where)
