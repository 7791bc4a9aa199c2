"""The README's settings table lists every setting the app reads."""
from pathlib import Path

from shared.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table():
    table_rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1] for row in table_rows}
    read_by_app = {field.alias for field in Settings.model_fields.values()}
    assert read_by_app - documented == set()
