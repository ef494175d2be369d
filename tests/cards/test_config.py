"""Study settings in config.toml: defaults, checks with file:line messages, saving that keeps the rest."""

from __future__ import annotations

import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS

from cards.config import Config, ConfigError, load_config, save_config
from cards.paths import Home


@pytest.fixture
def home(tmp_path) -> Home:
    return Home.at(tmp_path).ensure()


def test_a_missing_file_gives_the_defaults(home):
    assert load_config(home) == Config()
    assert Config().new_per_day == 20 and Config().rollover_hour == 4 and Config().leech_lapses == 8


def test_settings_are_read(home):
    home.config_path.write_text(
        '# mine\nnew_per_day = 5\nlearning_steps_min = [2, 15]\ntimezone = "Europe/Paris"\n', encoding="utf-8"
    )
    config = load_config(home)
    assert (config.new_per_day, config.learning_steps_min, config.timezone) == (5, (2, 15), "Europe/Paris")
    assert config.tzinfo().key == "Europe/Paris"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("new_per_day = 3\nrollover_hour = 25\n", 2, "rollover_hour must be from 0 to 23"),
        ("new_per_day = -1\n", 1, "new_per_day must be at least 0"),
        ('reviews_per_day = "many"\n', 1, "must be a whole number"),
        ("desired_retention = 1.5\n", 1, "desired_retention must be a number from 0.5 to 0.99"),
        ('timezone = "Mars/Olympus"\n', 1, "not a known time zone"),
        ("learning_steps_min = [1, 0]\n", 1, "learning_steps_min"),
        ("fsrs_parameters = [1.0, 2.0]\n", 1, "list of 21 numbers"),
        ("\n\nnew_per_dya = 3\n", 3, "unknown setting 'new_per_dya'"),
        ("new_per_day = \n", 1, "not valid TOML"),
    ],
)
def test_bad_values_name_the_file_line_and_key(home, text, line, words):
    home.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(home)
    message = str(caught.value)
    assert message.startswith(f"{home.config_path}:{line}:")
    assert words in message


def test_save_writes_changes_and_keeps_comments_and_other_tables(home):
    home.config_path.write_text(
        '# my settings\nnew_per_day = 5  # gentle\nleech_lapses = [\n  8,\n]\n\n[tui]\ntheme = "dark"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError):
        load_config(home)  # leech_lapses must be a number: the multi-line value gets replaced below
    fitted = (*DEFAULT_PARAMETERS[:4], 5.0, *DEFAULT_PARAMETERS[5:])
    save_config(home, Config(new_per_day=7, leech_lapses=6, fsrs_parameters=fitted))
    text = home.config_path.read_text(encoding="utf-8")
    assert text.startswith("# my settings\nnew_per_day = 7\nleech_lapses = 6\nfsrs_parameters = [")
    assert text.endswith(']\n\n[tui]\ntheme = "dark"\n')
    assert "rollover_hour" not in text  # defaults are not pinned into the file
    config = load_config(home)
    assert (config.new_per_day, config.leech_lapses, config.fsrs_parameters) == (7, 6, fitted)


def test_save_removes_a_setting_set_back_to_none(home):
    save_config(home, Config(timezone="Asia/Tokyo"))
    assert load_config(home).timezone == "Asia/Tokyo"
    save_config(home, Config())
    assert "timezone" not in home.config_path.read_text(encoding="utf-8")
    assert load_config(home) == Config()
