"""Swagger UI and ReDoc for ``/docs`` and ``/redoc``, shipped as package data (README.md)."""
