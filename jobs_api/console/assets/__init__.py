"""The console's static files, each held as text in a module of its own (index_html, console_js,
console_css): a publish ships only the app packages' .py files (tests/unit/test_package.py)."""
