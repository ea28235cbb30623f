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


@pytest.mark.parametrize("flags, env, message", [
    ({"port": 70000}, {}, "port"),
    ({}, {"BERTH_PORT": "http"}, "port"),
    ({"auth": "magic"}, {}, "auth"),
    ({"workers": -1}, {}, "workers"),
    ({}, {"BERTH_STORAGE_URL": "s4://bucket"}, "storage_url"),
    ({}, {"BERTH_UPLOAD_TTL": "0"}, "upload_ttl"),
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
