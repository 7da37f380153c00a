"""JUnit XML for CI pipelines: one testsuite per submission, one testcase per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.results import SubmissionResult


def junit_xml(results: list[SubmissionResult], *, assignment: str) -> str:
    suites = ET.Element("testsuites", name=f"grader {assignment}")
    for result in sorted(results, key=lambda r: r.student):
        checks = result.checks
        suite = ET.SubElement(
            suites, "testsuite", name=result.student, tests=str(len(checks)),
            failures=str(sum(c.status == "failed" for c in checks)),
            errors=str(sum(c.status in ("error", "timeout") for c in checks)),
            time=f"{result.duration:.3f}")
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", result.score), ("max_score", result.max_score), ("file", result.file),
                            ("status", result.status), ("penalty", result.penalty)):
            ET.SubElement(properties, "property", name=name, value=str(value))
        for check in checks:
            case = ET.SubElement(suite, "testcase", classname=f"{assignment}.{result.student}", name=check.name,
                                 time=f"{check.duration:.3f}")
            if check.status == "failed":
                ET.SubElement(case, "failure", message=check.message, type="wrong answer").text = check.message
            elif check.status in ("error", "timeout"):
                ET.SubElement(case, "error", message=check.message, type=check.status).text = check.message
        if result.error:
            ET.SubElement(suite, "system-err").text = result.error
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
