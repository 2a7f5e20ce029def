"""Building graded notebooks from lesson sources (with otter-grader) and grading submissions safely.

Building: ``lesson`` (read a lesson source), ``build`` (the student, solution and autograder notebooks).

Grading (threat model in ``grade``): ``regions`` (where a notebook's exercises are), ``screen`` (static review of
answer cells), ``isolate`` (the sandbox: namespaces, its own user, resource limits), ``worker`` (the graded run
inside the sandbox), ``grade`` (one submission), ``batch`` (many, the gradebook and its statistics), ``release``
(what students get, and which exercises have a twin in the package), ``samples`` (generated submissions for tests).
"""
