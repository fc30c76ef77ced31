"""nbgrader's Autograde converter with the grader's steps, and what they found handed back in resources.

The autograde pipeline is nbgrader's own list with its `Execute` step replaced by four, each with
one job:

1. `AddGraderCells` (answers): the grader's own calls of each checked function go in;
2. `GuardedExecute` (execute): the notebook runs in the sandbox, within its limits;
3. `TakeGraderCells` (answers): the grader's cells come out, with the answers they reported;
4. `MakeInert` (inert): the notebook's outputs and markdown can run no script.

In both passes nbgrader's `CheckCellMetadata` gives way to `CheckMetadata` (metadata), the same
check with nbgrader's schema checked once per process rather than once per cell.

Each step writes what it found into the notebook's resources under "coursetools".  The converter
seeds that entry with a `Findings` of its own for each notebook: nbconvert deep-copies the
resources before the steps run, and a Findings is shared by its copies, so the converter sees
what the steps wrote, even what a step found before another one raised.
`GraderAutograde.found` holds them, {notebook name: Findings}.
"""
from nbgrader.converters import Autograde
from nbgrader.preprocessors import CheckCellMetadata, Execute

from coursetools import cgroups
from coursetools.grading.answers import AddGraderCells, TakeGraderCells, checks_from
from coursetools.grading.execute import GuardedExecute
from coursetools.grading.inert import MakeInert
from coursetools.grading.metadata import CheckMetadata

#: What the grader runs where nbgrader's autograde pipeline has `Execute`.
EXECUTE_STEPS = [AddGraderCells, GuardedExecute, TakeGraderCells, MakeInert]


def autograde_preprocessors():
    """nbgrader's default autograde steps with EXECUTE_STEPS in place of Execute, and CheckMetadata."""
    steps = []
    for step in Autograde.autograde_preprocessors.default():
        steps += EXECUTE_STEPS if step is Execute else [CheckMetadata] if step is CheckCellMetadata else [step]
    return steps


def sanitize_preprocessors():
    """nbgrader's default sanitizing steps with CheckMetadata (coursetools.grading.metadata) in place of its own."""
    return [CheckMetadata if step is CheckCellMetadata else step for step in Autograde.sanitize_preprocessors.default()]


class Findings(dict):
    """What the grader's steps found in one notebook: a dict that its deep copies share."""

    def __deepcopy__(self, memo):
        return self


class GraderAutograde(Autograde):
    """nbgrader's Autograde whose steps report, per notebook, into `found` through resources."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.found = {}

    def init_single_notebook_resources(self, notebook_filename):
        resources = super().init_single_notebook_resources(notebook_filename)
        resources["coursetools"] = self.found.setdefault(resources["unique_key"], Findings())
        return resources


def autograde(bundle, task, options, course, database, seed):
    """Run the grader's Autograde on task's submission in the private course and gradebook; return (log record, found).

    The log record is nbgrader's `capture_log` dict ("success", "log", "error"); found is
    GraderAutograde.found.  options: as `coursetools.grading.submission.grade_submission` takes them.
    """
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config.loader import PyFileConfigLoader

    assignment, student = bundle["assignment"], task["student"]
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{database}"
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student
    config.GraderAutograde.autograde_preprocessors = autograde_preprocessors()
    config.GraderAutograde.sanitize_preprocessors = sanitize_preprocessors()
    # nbconvert validates the whole notebook after every step (2.4 ms each, about 15 a submission);
    # once after the last step of each pass still refuses an invalid notebook, naming the last step.
    config.NotebookExporter.optimistic_validation = True
    if options.get("cell_timeout"):
        config.Execute.timeout = options["cell_timeout"]
    for name in ("notebook_timeout", "max_output_bytes", "max_notebook_output_bytes"):
        if options.get(name):
            setattr(config.GuardedExecute, name, options[name])
    config.GuardedExecute.shutdown_kernel = "immediate"  # all cells have run: no need to wait for it
    config.GuardedExecute.bytecode = bundle.get("bytecode", {})
    cases = {}  # of each checks module
    for notebook, plan in bundle["checks"].items():
        if plan["module"] not in cases:
            with checks_from(course / "source" / assignment, plan["module"]) as checks:
                cases[plan["module"]] = checks.grader_cases(seed)
    config.AddGraderCells.answer_plans = {notebook: {**plan, "cases": cases[plan["module"]]}
                                          for notebook, plan in bundle["checks"].items()}
    if options.get("sandbox") is not None:
        config.GuardedExecute.sandboxed = True
        config.SandboxedKernelManager.work = options.get("kernel_folder") or str(course)
        config.SandboxKernelSpecManager.launcher_args = list(options["sandbox"])
    app = GraderAutograde(coursedir=CourseDirectory(config=config), config=config)
    app.force, app.create_student = True, True
    try:
        return capture_log(app), app.found
    finally:
        cgroups.remove_orphaned_caps()  # jupyter_client kills the launcher at once: its memory cgroup stays
