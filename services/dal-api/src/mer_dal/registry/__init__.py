"""The registry's rules above SurrealQL: what a write must satisfy before ``crud`` stores it.

Routes call these; they never import FastAPI, and are tested against an embedded database.
"""
