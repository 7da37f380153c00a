"""The stats page (``grader stats --out report.html``): the class at a glance, plots embedded."""

from __future__ import annotations

from grader.reports.analytics import plots
from grader.reports.analytics.html import document, escape, image
from grader.reports.analytics.stats import CheckStats, ClassStats, Distribution
from grader.results import REASONS, format_points


def _summary(d: Distribution, unit: str = "", digits: int = 3) -> str:
    def f(x: float) -> str:
        return f"{x:.{digits}g}{unit}"

    return (f"median {f(d.median)} (middle half {f(d.p25)}–{f(d.p75)}), mean {f(d.mean)}, "
            f"lowest {f(d.minimum)}, highest {f(d.maximum)}")


def _check_row(check: CheckStats) -> str:
    kind = "hidden-check" if check.visibility == "hidden" else "public-check"
    return (f'<tr><td><code>{escape(check.name)}</code></td><td class="{kind}">{escape(check.visibility)}</td>'
            f'<td class="n">{format_points(check.max_score)}</td><td class="n">{100 * check.pass_rate:.0f}%</td>'
            f'<td class="n">{check.passed}</td><td class="n">{check.failed}</td><td class="n">{check.errors}</td>'
            f'<td class="n">{check.timeouts}</td><td class="n">{check.mean_seconds:.3f}</td></tr>')


def _failures(stats: ClassStats) -> list[str]:
    body = ["<h2>What went wrong in the most failed checks</h2>",
            '<p class="note">Messages that differ only in their numbers are grouped (each number shown as #). '
            "The example is one student's own message.</p>"]
    by_name = {c.name: c for c in stats.checks}
    for name in stats.most_failed:
        check = by_name[name]
        not_passed = check.runs - check.passed
        body.append(f"<h3><code>{escape(name)}</code> — {check.visibility}, passed by {check.passed} of "
                    f"{check.runs} ({100 * check.pass_rate:.0f}%)</h3>")
        body.append('<table><tr><th class="n">students</th><th>message (numbers as #)</th><th>example</th></tr>')
        for group in stats.failures.get(name, []):
            width = round(120 * group.count / max(1, not_passed))
            body.append(f'<tr><td class="n">{group.count} <span class="bar" style="width:{width}px"></span></td>'
                        f'<td class="message">{escape(group.pattern)}</td>'
                        f'<td><strong>{escape(group.example_student)}</strong>: '
                        f'<span class="message">{escape(group.example_message)}</span></td></tr>')
        body.append("</table>")
        more = stats.more_failures.get(name, 0)
        if more:
            body.append(f'<p class="note">and {more} more kinds of message.</p>')
    return body


def render_stats_html(stats: ClassStats, *, title: str = "") -> str:
    """The stats page: every plot as an embedded PNG, every string from the gradebook escaped."""
    heading = f"{title or stats.assignment}: the class at a glance"
    scores = stats.scores
    body = [f"<h1>{escape(heading)}</h1>",
            f'<p>{stats.students} students, from each one\'s latest run in <code>{escape(stats.gradebook)}</code>. '
            f"{stats.full_marks} with full marks; {stats.ungraded} whose file could not be graded.</p>",
            "<h2>Scores</h2>", f"<p>{escape(_summary(scores))} of {format_points(stats.max_score)} points.</p>",
            image(plots.score_histogram(scores, stats.max_score), "histogram of the students' scores"),
            "<h2>Checks</h2>", '<p class="note">Pass rate per check, in the order of checks.py; hidden checks are '
            "purple and hatched.</p>",
            image(plots.pass_rates(stats.checks), "pass rate per check, public and hidden"),
            '<table><tr><th>check</th><th>visibility</th><th class="n">points</th><th class="n">pass rate</th>'
            '<th class="n">passed</th><th class="n">wrong</th><th class="n">error</th><th class="n">timeout</th>'
            '<th class="n">mean s</th></tr>', *map(_check_row, stats.checks), "</table>"]
    body += _failures(stats)
    body.append("<h2>Timeouts, errors and crashes</h2>")
    chart = plots.outcomes(stats.checks)
    if chart is None:
        body.append("<p>No check timed out, crashed or raised.</p>")
    else:
        reasons = sorted({r for c in stats.checks for r in c.reasons})
        body.append(image(chart, "timeouts, errors and crashes per check, by reason"))
        body.append("<ul>" + "".join(f"<li><code>{escape(r)}</code>: {escape(REASONS.get(r, 'the student’s code raised'))}</li>"
                                     for r in reasons) + "</ul>")
    if stats.ungraded:
        body.append(f'<p class="note">{stats.ungraded} files that could not be graded at all are left out of this chart.</p>')
    body.append("<h2>Lateness and penalties</h2>")
    late = stats.lateness
    chart = plots.lateness(late)
    if chart is None:
        body.append(f"<p>All {late.on_time} students submitted on time (or the assignment has no due date).</p>")
    else:
        body.append(f"<p>{late.late} late, {late.on_time} on time; {late.penalised} lost points for it "
                    f"({late.total_penalty:g} in all).</p>")
        body.append(image(chart, "days late and points deducted"))
    seconds = stats.grading_seconds
    body += ["<h2>Grading time</h2>", f"<p>Per submission: {escape(_summary(seconds, ' s'))}.</p>",
             image(plots.grading_times(seconds), "histogram of grading time per submission")]
    return document(heading, body)
