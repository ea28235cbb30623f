"""The CLI itself: version, help, and the error line and exit code of a bad reference."""

from cli.errors import ExitCode


def test_version_and_help(berth):
    assert berth.ok("version").out.startswith("berth ")
    result = berth.run_process("--help")
    assert result.code == 0 and "usage: berth" in result.out


def test_reference_registry_fixture_starts(reference_registry, basic_registry):
    import urllib.error
    import urllib.request
    assert urllib.request.urlopen(f"http://{reference_registry.host}/v2/").status == 200
    try:
        urllib.request.urlopen(f"http://{basic_registry.host}/v2/")
        raise AssertionError("the htpasswd registry let an anonymous caller in")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401 and exc.headers["WWW-Authenticate"].startswith("Basic")
    assert ExitCode.NOT_FOUND == 4
