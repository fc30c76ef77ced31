"""The mutation audit (`make audit`): are an assignment's grades fair?

Mutants of each graded function's solution (`mutate`) get two independent verdicts: the truth,
from the instructor's solution on random inputs of each function's declared domain (`truth`), and
the grade, from the assignment's own test cells and the grader's own call (`judge`).  `run` puts
them together under the rule, in parallel; `report` writes what it found, `agree` checks a sample
against `make grade`, `cli` is the command.  Importing this package has no side effects.
"""
