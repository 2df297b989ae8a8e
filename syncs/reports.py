"""A pipeline result in plain lines, as ``ingest_snapshot`` and ``pull_snapshot`` print it."""

from .ingest import IngestResult


def result_lines(result: IngestResult, *, dry_run: bool) -> list[str]:
    """The outcome and reason, the pull (when there was one: mode, why, requests, records per
    collection), the per-type counts and the first 50 validation problems (file:line:column)."""
    prefix = "Dry run: would be " if dry_run else ""
    lines = [f"{prefix}{result.outcome}" + (f" (run {result.run.pk})" if result.run else "") + f": {result.reason}"]
    pull = result.pull
    if pull.get("collections"):
        lines.append(
            f"  pull: {pull['mode']} ({pull.get('why', '')}), {pull['requests']:,} requests, "
            f"{pull['records']:,} records in {pull['seconds']:.1f} s"
        )
        lines += [
            f"  /{name:<17} {c['pages']:>5,} pages {c['records']:>9,} records"
            for name, c in pull["collections"].items()
        ]
    for entity, c in result.counts.items():
        lines.append(
            f"  {entity:<17} {c['mode']:<6} before {c['before']:>7,}  +{c['created']:,} ~{c['updated']:,} "
            f"-{c['deleted']:,}  ={c['unchanged']:,}  dropped {c['rows_dropped']:,}"
        )
    for problem in result.problems[:50]:
        where = f"{problem['file']}:{problem['line']}:{problem['column']}"
        lines.append(f"  {where}: {problem['message']} ({problem['level']})")
    return lines
