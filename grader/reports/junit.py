"""JUnit XML for CI pipelines: one testsuite per submission, one testcase per check.

XML 1.0 cannot hold every character a string can: NUL, most C0 controls, lone surrogates and
U+FFFE/U+FFFF make a document no parser accepts, even as character references. Every string
goes through ``xml_text`` first, which drops them. The document is returned as ASCII (other
characters as character references), so it stays valid whatever encoding it is written in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.results import SubmissionResult
from grader.text import valid_unicode

# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets): tab, LF, CR, U+0020-U+D7FF,
# U+E000-U+FFFD and U+10000-U+10FFFF. Everything else is removed (a lone surrogate is first
# replaced, as everywhere, so ids that differed only there stay apart).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value) -> str:
    """``value`` as text XML 1.0 can hold: characters it does not allow are removed."""
    return _NOT_XML.sub("", valid_unicode(value if isinstance(value, str) else str(value)))


def junit_xml(results: list[SubmissionResult], *, assignment: str) -> str:
    x = xml_text
    suites = ET.Element("testsuites", name=x(f"grader {assignment}"))
    for result in sorted(results, key=lambda r: r.student):
        checks = result.checks
        suite = ET.SubElement(
            suites, "testsuite", name=x(result.student), tests=str(len(checks)),
            failures=str(sum(c.status == "failed" for c in checks)),
            errors=str(sum(c.status in ("error", "timeout") for c in checks)),
            time=f"{result.duration:.3f}")
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", result.score), ("max_score", result.max_score), ("file", result.file),
                            ("status", result.status), ("penalty", result.penalty),
                            ("submitted_at_source", result.submitted_at_source or "")):
            ET.SubElement(properties, "property", name=name, value=x(value))
        for check in checks:
            case = ET.SubElement(suite, "testcase", classname=x(f"{assignment}.{result.student}"), name=x(check.name),
                                 time=f"{check.duration:.3f}")
            if check.status == "failed":
                ET.SubElement(case, "failure", message=x(check.message), type="wrong answer").text = x(check.message)
            elif check.status in ("error", "timeout"):
                ET.SubElement(case, "error", message=x(check.message), type=x(check.status)).text = x(check.message)
        if result.error:
            ET.SubElement(suite, "system-err").text = x(result.error)
    ET.indent(suites)
    return ET.tostring(suites, encoding="us-ascii", xml_declaration=True).decode("ascii") + "\n"
