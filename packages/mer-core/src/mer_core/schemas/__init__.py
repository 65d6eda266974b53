"""Pydantic schemas of MER's two APIs: the registry (DAL) and the Open Inference Protocol."""
