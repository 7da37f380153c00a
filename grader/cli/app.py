"""The ``grader`` command group, its exit codes and what every command shares.

Commands live one group of jobs to a module (``course``, ``check``, ``grade``, ``reports``,
``db``, ``gradescope``, ``doctor``); each only parses its options, calls the library and
formats what it returns. ``grader.cli`` assembles them.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import click

from grader.course.assignment import COURSE_ENV, default_course_root
from grader.errors import GraderError

CONTEXT = {"help_option_names": ["-h", "--help"]}


EXIT_OK, EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 130


class GraderGroup(click.Group):
    """Maps outcomes to exit codes: 0 done, 1 a usage or input error (one line, ``ErrorName: message``),
    2 a bug in the grader (with its traceback), 130 interrupted; ``grader grade`` also exits 3
    when it finished but the grader failed on some submissions (``cli.grade.EXIT_GRADER_FAULTS``).

    Commands may be registered by name and ``module:attribute`` in ``lazy_commands``: their
    module is imported when the command is looked up, not with the group."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, name: str):
        if name in self.lazy_commands and name not in self.commands:
            import importlib

            module, attribute = self.lazy_commands[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as done:
            code = done.exit_code
        except click.ClickException as error:  # bad options or arguments
            error.show()
            code = EXIT_INPUT
        except click.Abort as abort:
            if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
                click.echo("Interrupted: results stored so far are kept; rerun to grade the rest.", err=True)
                code = EXIT_INTERRUPTED
            else:
                click.echo("Aborted.", err=True)
                code = EXIT_INPUT
        except GraderError as error:
            click.echo(f"{type(error).__name__}: {error}", err=True)
            code = EXIT_INPUT
        except KeyboardInterrupt:
            click.echo("Interrupted: results stored so far are kept; rerun to grade the rest.", err=True)
            code = EXIT_INTERRUPTED
        except Exception:  # noqa: BLE001 - our own bug: show it in full
            traceback.print_exc()
            click.echo("This is a bug in grader, not in your files: please report it with the traceback above.",
                       err=True)
            code = EXIT_BUG
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def course_root(ctx: click.Context) -> Path:
    """The course folder the command works in (``--course``, ``$GRADER_COURSE`` or the bundled one)."""
    return ctx.find_root().obj["course"]


@click.group(cls=GraderGroup, context_settings=CONTEXT)
@click.option("--course", type=click.Path(file_okay=False, path_type=Path), envvar=COURSE_ENV,
              help="Course folder holding assignments/ and reference/ (default: the bundled course).")
@click.version_option(package_name="grader")
@click.pass_context
def cli(ctx: click.Context, course: Path | None) -> None:
    """Grade deep-learning exercises: sandboxed runs, numeric checks, a gradebook."""
    ctx.ensure_object(dict)
    ctx.obj["course"] = course.resolve() if course else default_course_root()
    logging.basicConfig(level=logging.WARNING, format="grader: %(levelname)s: %(message)s", stream=sys.stderr)
