"""The bench harnesses' command lines, as `make loadtest` calls them: the Makefile exports its
variables even when nobody set them, so an empty one must mean "not given" (CI's smoke once
stopped on `LOADTEST_WORKERS=`)."""

from bench import loadtest


def test_empty_loadtest_variables_take_the_defaults(monkeypatch):
    for name in ("LOADTEST_WORKERS", "LOADTEST_CUSTOMERS", "LOADTEST_STEPS", "LOADTEST_STEP_SECONDS",
                 "LOADTEST_DATABASE_URL", "LOADTEST_INSTANCE", "LOADTEST_SMOKE"):  # fmt: skip
        monkeypatch.setenv(name, "")
    args = loadtest._arguments([])
    assert args.workers == 2
    assert args.customers == 20000
    assert args.steps == [25, 50, 100, 200, 300, 400]
    assert args.instance is None
    assert args.database_url == ""
    assert not args.smoke


def test_set_loadtest_variables_are_used(monkeypatch):
    monkeypatch.setenv("LOADTEST_WORKERS", "4")
    monkeypatch.setenv("LOADTEST_SMOKE", "1")
    args = loadtest._arguments([])
    assert args.workers == 4
    assert args.smoke
    assert args.steps == loadtest.SMOKE["steps"]


def test_empty_bench_variables_take_the_defaults(monkeypatch):
    from bench import run

    for name in ("BENCH_CUSTOMERS", "BENCH_SECONDS", "BENCH_CONNECTIONS", "BENCH_THREADS", "BENCH_INSTANCE"):
        monkeypatch.setenv(name, "")
    args = run._arguments([])
    assert (args.customers, args.seconds, args.connections, args.threads) == (100000, 10, 16, 2)
    assert args.instance is None
