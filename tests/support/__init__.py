"""Test infrastructure shared by the end-to-end suites: real processes (the registry, dockerd, podman) and
test images built offline.

Every registry a test makes, in-process or as a `berth-registry` process, takes its database from
databases.py, so that the whole suite runs on SQLite or (BERTH_TEST_DATABASE=postgresql) on PostgreSQL:
`databases.registry_settings(data_dir, **flags)` for create_app, `databases.server_env(data_dir)` for a
subprocess (RegistryProcess and accounts.berth_admin add it themselves), `databases.database_url(data_dir)`
for anything else. Never build an `sqlite+aiosqlite://` URL or call load_settings for a registry by hand."""
