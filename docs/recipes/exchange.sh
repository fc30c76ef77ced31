#!/usr/bin/env bash
# The nbgrader exchange, end to end, on one machine: the instructor releases every assignment,
# learners fetch it, do it and submit it, the instructor collects, grades (sandboxed, `make grade`'s
# grader), writes and releases feedback, and the learners fetch their feedback.
#
#   docs/recipes/exchange.sh
#
# It plays every learner itself: each learner's work is the sample class's submission of that name
# (coursetools/sample_class.py), made in a folder of the learner's own. On a shared machine each
# learner runs the learner's commands below as themselves, without --student (nbgrader takes
# their user name), and the instructor collects without --CollectApp.check_owner=False.
#
# Settings (environment variables, with their defaults):
#   COURSE       the course folder, a checkout of this repository (the one holding this script)
#   COURSE_VENV  the course's environment, with nbgrader ($COURSE/.venv, made by `make`)
#   ASSIGNMENTS  the assignments (every folder of $COURSE/source)
#   COURSE_ID    the course, as nbgrader_config.py names it (calculus-for-ml)
#   EXCHANGE     the exchange folder, nbgrader's Exchange.root (a new temporary folder;
#                for a class, a folder every learner can reach, e.g. /srv/nbgrader/exchange)
#   LEARNERS     the learners, named after sample submissions (full-solution equivalent-forms untouched-release)
#   HOMES        where each learner's home folder is made (a new temporary folder)
#   GRADE_FLAGS  more options of `python -m coursetools grade` (none), e.g. --jobs 2
#
# The gradebook is the course's own (nbgrader_config.py's db_url, else gradebook.db); the
# assignments and the sample learners are added to it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COURSE=$(cd "${COURSE:-$here/../..}" && pwd)
COURSE_VENV=${COURSE_VENV:-$COURSE/.venv}
ASSIGNMENTS=${ASSIGNMENTS:-$(cd "$COURSE/source" && for a in */; do printf '%s ' "${a%/}"; done)}
COURSE_ID=${COURSE_ID:-calculus-for-ml}
EXCHANGE=${EXCHANGE:-$(mktemp -d)/exchange}
LEARNERS=${LEARNERS:-full-solution equivalent-forms untouched-release}
HOMES=${HOMES:-$(mktemp -d)}
GRADE_FLAGS=${GRADE_FLAGS:-}

say() { printf '\n== %s\n' "$*"; }
# The course's own tools first on PATH: nbgrader runs `alembic` from PATH when it makes a gradebook.
export PATH="$COURSE_VENV/bin:$PATH"
instructor() { (cd "$COURSE" && "$@"); }
# A learner works in a home of their own: nbgrader keeps what they submitted in ~/.local/share/jupyter
# (Exchange.cache), and fetch_feedback finds their feedback from it.
learner() { local who=$1; shift; mkdir -p "$HOMES/$who"; (cd "$HOMES/$who" && HOME="$HOMES/$who" "$@"); }

mkdir -p "$EXCHANGE"
for assignment in $ASSIGNMENTS; do
  say "instructor: $assignment into the gradebook, then released to $EXCHANGE"
  # nbgrader writes the assignment's cells into the gradebook as it generates it: into a scratch
  # folder, so that the committed release/ is never touched (nbgrader skips an existing release, and
  # with --force deletes it first, even when generating then fails).
  scratch=$(mktemp -d)
  instructor nbgrader generate_assignment "$assignment" --CourseDirectory.release_directory="$scratch"
  rm -rf "$scratch"
  # What learners get is the committed release/<assignment>.
  instructor nbgrader release_assignment "$assignment" --Exchange.root="$EXCHANGE"

  for who in $LEARNERS; do
    say "learner $who: fetch, work, submit $assignment"
    learner "$who" nbgrader fetch_assignment "$assignment" --course "$COURSE_ID" --Exchange.root="$EXCHANGE"
    # The learner's work: the sample class's notebook of that name, written over the fetched one.
    instructor python - "$assignment" "$who" "$HOMES/$who/$assignment" <<'EOF'
import sys
from pathlib import Path

import nbformat

from coursetools.course import find
from coursetools.sample_class import CLASS, submission

assignment, who, folder = sys.argv[1:]
case = next(c for c in CLASS[assignment] if c.student == who)
nbformat.write(submission(".", case), Path(folder) / find(assignment, ".").notebook)
EOF
    learner "$who" nbgrader submit "$assignment" --course "$COURSE_ID" --Exchange.root="$EXCHANGE" --student "$who"
  done

  say "instructor: collect, grade, feedback for $assignment"
  instructor nbgrader collect "$assignment" --Exchange.root="$EXCHANGE" --CollectApp.check_owner=False
  # shellcheck disable=SC2086
  instructor python -m coursetools grade --root "$COURSE" --assignment "$assignment" $GRADE_FLAGS
  instructor nbgrader generate_feedback "$assignment"
  instructor nbgrader release_feedback "$assignment" --Exchange.root="$EXCHANGE"

  for who in $LEARNERS; do
    say "learner $who: fetch the feedback on $assignment"
    learner "$who" nbgrader fetch_feedback "$assignment" --course "$COURSE_ID" --Exchange.root="$EXCHANGE" \
      --student "$who"
    find "$HOMES/$who/$assignment/feedback" -name '*.html'
  done
done

say "done: the exchange is $EXCHANGE, the learners' folders are under $HOMES"
echo "The formgrader shows the same course when JupyterLab is started in $COURSE with the same exchange:"
echo "  jupyter lab --Exchange.root=$EXCHANGE   (as root, also --allow-root)"
