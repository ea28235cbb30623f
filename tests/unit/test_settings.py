"""Settings: flags > BERTH_* environment > config file > defaults, validated once."""

import os

import pytest

from registry.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_fast_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings({}, env={})
    assert (s.host, s.port, s.auth, s.token_ttl) == ("127.0.0.1", 5000, "token", 3600)
    assert s.data_dir == tmp_path / "berth-data"
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'berth-data' / 'registry.db'}"
    assert s.storage_url == (tmp_path / "berth-data").as_uri()
    assert s.workers == os.cpu_count()
    assert s.upload_ttl == 86400 and s.upload_purge_interval == 3600


def test_flags_beat_environment_beat_config_file(tmp_path):
    config = tmp_path / "berth.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\nworkers = 3\nlog_format = "json"\n')
    env = {"BERTH_PORT": "6000", "BERTH_WORKERS": "2"}
    s = load_settings({"port": 5001}, env=env, config_file=config)
    assert (s.port, s.workers, s.host, s.log_format) == (5001, 2, "0.0.0.0", "json")
    assert load_settings({}, env={**env, "BERTH_CONFIG": str(config)}).host == "0.0.0.0"


def test_database_and_storage_urls_override_the_data_dir(tmp_path):
    env = {"BERTH_DATABASE_URL": "postgresql+asyncpg://u:p@h/db", "BERTH_STORAGE_URL": "file:///srv/blobs"}
    s = load_settings({"data_dir": tmp_path}, env=env)
    assert s.database_url == env["BERTH_DATABASE_URL"]
    assert str(s.storage_root) == "/srv/blobs"


def test_the_database_pool_comes_from_a_database_table_or_the_environment(tmp_path):
    assert (load_settings({}, env={}).database_pool_size, load_settings({}, env={}).database_max_overflow,
            load_settings({}, env={}).database_pool_timeout) == (5, 5, 10.0)
    config = tmp_path / "berth.toml"
    config.write_text('[database]\nurl = "postgresql+asyncpg://db/berth"\npool_size = 8\nmax_overflow = 0\n')
    s = load_settings({}, env={"BERTH_DATABASE_POOL_TIMEOUT": "2.5"}, config_file=config)
    assert (s.database_url, s.database_pool_size, s.database_max_overflow, s.database_pool_timeout) == \
        ("postgresql+asyncpg://db/berth", 8, 0, 2.5)


@pytest.mark.parametrize("flags, env, message", [
    ({"port": 70000}, {}, "port"),
    ({}, {"BERTH_PORT": "http"}, "port"),
    ({"auth": "magic"}, {}, "auth"),
    ({"workers": -1}, {}, "workers"),
    ({}, {"BERTH_STORAGE_URL": "s4://bucket"}, "storage_url"),
    ({}, {"BERTH_UPLOAD_TTL": "0"}, "upload_ttl"),
    ({}, {"BERTH_DATABASE_POOL_SIZE": "0"}, "database_pool_size"),
    ({}, {"BERTH_DATABASE_MAX_OVERFLOW": "-1"}, "database_max_overflow"),
    ({}, {"BERTH_DATABASE_POOL_TIMEOUT": "0"}, "database_pool_timeout"),
    ({"colour": "blue"}, {}, "colour"),
])
def test_bad_settings_fail_loudly_and_name_the_setting(flags, env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(flags, env=env)


def test_config_file_mistakes_are_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({}, env={}, config_file=bad)
    bad.write_text("port = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, env={}, config_file=bad)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({}, env={}, config_file=tmp_path / "missing.toml")
