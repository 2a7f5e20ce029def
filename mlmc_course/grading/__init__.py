"""Building graded notebooks from lesson sources (with otter-grader) and grading submissions."""
