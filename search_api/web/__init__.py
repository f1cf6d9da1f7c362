"""The server-rendered web page: templates, static files and the Python that fills them.

Templates and static files live flat in this package (not in sub-folders) so that the
``package-data`` globs of pyproject.toml (``*.html``, ``*.css``, ``*.js``) ship them in a wheel.
"""
