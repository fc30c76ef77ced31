"""Instructor tooling beyond stock nbgrader: release, sample class, grade tables.

Run `python -m coursetools --help`; the Makefile calls it.
"""
