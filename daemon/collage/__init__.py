"""Collages: export.py orchestrates; names -> sources -> layout -> crop -> render -> caption do the work.

Reads the DB, writes only into the export folder (or a preview file), never into a library.
"""
