"""Pure Japanese name and date normalisation, shared by the indexer and the search API.

Modules: ``dates`` (ledger and user birth dates, 元号, blocking variants), ``kana`` (kana
normalisation and graded folds), ``kanji`` (variant forms), ``readings`` (SudachiPy readings),
``names`` (surname / given name structure); ``opensearch/`` holds the analysis JSON.

This package imports nothing else of the project, so both sides can depend on it. Importing
it is cheap: the SudachiPy dictionary is loaded only when a ``ReadingDictionary`` is created.
"""
