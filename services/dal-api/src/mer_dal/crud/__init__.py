"""Every SurrealQL statement of the DAL, one module per table.

Functions are keyword-only, take the open ``Database`` first and return schema objects. Record ids
are always built from parameters (``type::thing('model', $name)``), never pasted into the text.
Registry writes bump the global revision (``revision.BUMP``) in their own transaction.
"""
