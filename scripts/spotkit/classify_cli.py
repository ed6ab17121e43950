"""``spotkit classify``: would the resubmit function resubmit a job that failed with this reason?"""

from __future__ import annotations

import json

import click


@click.command("classify")
@click.argument("reason")
@click.option("--patterns", "patterns_json", metavar="JSON",
              help="JSON array of globs to use instead of SPOTKIT_RECLAIM_PATTERNS / the defaults.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def classify_cmd(reason: str, patterns_json: str | None, as_json: bool) -> None:
    """Classify REASON (a statusReason or container.reason) with the resubmit function's own globs.

    Prints the decision (resubmit / skip) and the reclaim glob that matched. The globs come from
    --patterns, else the SPOTKIT_RECLAIM_PATTERNS environment variable, else the defaults; see
    docs/classification.md for the audited corpus. Exit status 0 either way; 2 on a bad pattern list.
    """
    from spotkit.classify import RECLAIM_PATTERNS_ENV, matching_pattern, reclaim_patterns

    try:
        env = None if patterns_json is None else {RECLAIM_PATTERNS_ENV: patterns_json}
        patterns = reclaim_patterns(env)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    pattern = matching_pattern(reason, patterns)
    decision = "resubmit" if pattern else "skip"
    if as_json:
        click.echo(json.dumps({"reason": reason, "decision": decision, "pattern": pattern,
                               "patterns": list(patterns)}))
        return
    click.echo(f"decision: {decision}")
    click.echo(f"pattern:  {pattern if pattern else '(none matched: ' + ', '.join(patterns) + ')'}")
