"""mer_migrate: applies the numbered SurrealQL scripts of ``sql/`` to the MER-DB.

A plain core (``scripts`` discovery and checks, ``splitter``, ``history``, ``lock``, ``apply``,
``plan``, ``runner``) that never imports typer or rich, under the CLI (``cli``, ``render``).
"""
