"""The class report: what a class got wrong, from the gradebook and the grader's journal (`make report`)."""
