"""Graded checks, one module per lesson (``l01_regression`` checks lesson 01, ...).

A check takes the student's answer (usually a function), exercises it on inputs it makes itself under a seed, and
raises :class:`CheckFailed` (an ``AssertionError``) with a message that says what is wrong. Every check is tested
against the wrong answers recorded in the lesson sources (``tests/test_checks.py``).
"""

from mlmc_course.checks.core import CheckFailed, check_rng, seed_offset

__all__ = ["CheckFailed", "check_rng", "seed_offset"]
