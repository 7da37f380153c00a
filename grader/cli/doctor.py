"""``grader doctor``: which sandbox layers this host allows."""

from __future__ import annotations

import json

import click

from grader.cli.app import CONTEXT


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def doctor(as_json: bool) -> None:
    """Show which sandbox isolation layers work on this host, the start-up mode and versions."""
    from grader.reports import terminal as present
    from grader.sandbox.doctor import host_report

    report = host_report()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        present.doctor(present.console(), report)
