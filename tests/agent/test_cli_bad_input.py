"""Bad input, every case issue 14 lists, as users type it: one `error:` line on stderr, exit
code 2, nothing on stdout, and nothing written (the working directory, where the commands'
default outputs would go, is byte-for-byte unchanged).

One table. Each row runs in this process through `agent.cli.run_cli`, the console script's own
body; a few rows also run through the installed console script in a subprocess to prove the
entry point behaves the same. Chain rows run against a real anvil with the system deployed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from chain.node import free_loopback_port
from tests.agent.cli_runner import files_under, run_in_process, run_script

CHAINLINK = "roundId,answer,startedAt,updatedAt\n1,73210000000,1609459200,1609459200\n"
FILES = {
    "empty.csv": "",
    "header.csv": "timestamp,price\n",
    "iso.csv": "timestamp,price\n2021-01-01T00:00:00Z,730.1\n2021-01-01T01:00:00Z,731.5\n",
    "baddate.csv": "timestamp,price\n2021-01-01,1\n2021-02-30,2\n",
    "negative.csv": "timestamp,price\n1609459200,5\n1609462800,-1\n",
    "zero.csv": "timestamp,price\n1609459200,0\n",
    "nan.csv": "timestamp,price\n1609459200,NaN\n",
    "chainlink.csv": CHAINLINK,
    "text.sqlite": "this is not a database\n",
    "notpem.txt": "not a certificate\n",
    "document.bin": "x",
}
CONFIG = """rpc_url = "http://127.0.0.1:1"
chain_id = 31337
deployment_file = "deployment.json"
database_url = "agent.sqlite"
assets = ["WETH"]
[operator]
use_dev_account = 0
[backfill_csv]
"""


POSITIONS_AT_LEAST_1 = ("Invalid value for '--positions': Input should be greater than or equal to 1 "
                        "(see `risk-agent backtest --help`)")


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    message: str  # the whole line after "error: "; with `fragment`, a part of it
    fragment: bool = False
    chain: bool = False
    script: bool = False  # also through the console script


# {tmp}: the test's working directory; {rpc}, {deployment}, {other_chain}, {eoa}: the anvil market.
CASES = [
    # --- price files (backtest --data and data inspect read them with the same loaders)
    Case("empty CSV", ("backtest", "--data", "empty.csv"), "{tmp}/empty.csv: file is empty", script=True),
    Case("header-only CSV", ("backtest", "--data", "header.csv"), "{tmp}/header.csv: no data rows (header only)"),
    Case("malformed date", ("data", "inspect", "baddate.csv"),
         "{tmp}/baddate.csv: line 3: malformed date '2021-02-30' (column timestamp; expected ISO 8601 or unix s/ms)"),
    Case("negative price, with its row", ("backtest", "--data", "negative.csv"),
         "{tmp}/negative.csv: line 3: price is negative (-1) (column price); refusing the file"),
    Case("zero price", ("data", "inspect", "zero.csv"),
         "{tmp}/zero.csv: line 2: price is zero (column price); refusing the file"),
    Case("NaN price", ("backtest", "--data", "nan.csv"),
         "{tmp}/nan.csv: line 2: price is NaN (column price); refusing the file"),
    Case("Chainlink dump without decimals", ("backtest", "--data", "chainlink.csv"),
         "{tmp}/chainlink.csv: Chainlink answers need the feed's decimals, which the file does not state: give "
         "--decimals N "
         "(8 for most USD feeds, 18 for ETH-quoted ones)"),
    # --- options
    Case("--positions -5", ("backtest", "--positions", "-5"), POSITIONS_AT_LEAST_1),
    Case("--positions 0", ("backtest", "--positions", "0"), POSITIONS_AT_LEAST_1, script=True),
    Case("--assets ''", ("backtest", "--assets", ""), "--assets is empty: give at least one value (comma-separated)"),
    Case("propose --assets ''", ("propose", "--rpc", "http://127.0.0.1:1", "--assets", " , "),
         "--assets is empty: give at least one value (comma-separated)"),
    Case("malformed --from", ("backtest", "--from", "2020-02-30"), "--from '2020-02-30' is not a date (YYYY-MM-DD)"),
    Case("demo --cycles 0", ("demo", "--cycles", "0"),
         "Invalid value for '--cycles': Input should be greater than or equal to 1 (see `risk-agent demo --help`)",
         script=True),
    Case("sweep period without a colon", ("sweep", "--periods", "2020-03-01"),
         "--periods '2020-03-01' is not FROM:TO (e.g. 2020-03-01:2020-03-31)"),
    Case("sweep period backwards", ("sweep", "--periods", "2020-03-10:2020-03-01"),
         "--periods '2020-03-10:2020-03-01': 2020-03-01 is not after 2020-03-10"),
    Case("sweep seed not a number", ("sweep", "--seeds", "1,two"), "--seeds 'two' is not a whole number"),
    Case("sweep depth scale zero", ("sweep", "--depth-scales", "0"), "--depth-scales '0' must be greater than 0"),
    Case("sweep unknown strategy", ("sweep", "--strategies", "agent,magic"),
         "unknown strategy 'magic' (known: agent, agent-no-delay, static-v3, static-v2, smart-ltv, chaos-caps)"),
    Case("unknown option", ("status", "--colour", "blue"), "No such option: --colour (see `risk-agent status --help`)"),
    Case("backtest --market unknown", ("backtest", "--market", "wild"), "--market 'wild' is not one of dynamic, fixed"),
    Case("sweep --config missing", ("sweep", "--config", "nowhere.toml"),
         "strategy config {tmp}/nowhere.toml not found"),
    Case("backtest --config not TOML", ("backtest", "--config", "notpem.txt"),
         "{tmp}/notpem.txt: not valid TOML (Expected '=' after a key in a key/value pair (at line 1, column 5))"),
    Case("enclave serve --token-file missing", ("enclave", "serve", "--token-file", "token.txt"),
         "--token-file token.txt is not a file"),
    Case("enclave serve nitro without a token", ("enclave", "serve", "--backend", "nitro"),
         "the nitro back end serves only authenticated clients: give --token-file or set RISK_AGENT_ENCLAVE_TOKEN"),
    # --- databases
    Case("--db in a directory that does not exist (backtest)", ("backtest", "--db", "nowhere/runs.sqlite"),
         "directory nowhere does not exist"),
    Case("--db in a directory that does not exist (demo)", ("demo", "--db", "nowhere/demo.sqlite"),
         "directory nowhere does not exist"),
    Case("--db in a directory that does not exist (status)", ("status", "--db", "nowhere/agent.sqlite"),
         "database nowhere/agent.sqlite not found"),
    Case("--db is a directory", ("status", "--db", "."), "database . is a directory, not a SQLite file"),
    Case("truncated database", ("status", "--db", "truncated.sqlite"),
         "database truncated.sqlite cannot be read: database disk image is malformed"),
    Case("not a SQLite file (status)", ("status", "--db", "text.sqlite"),
         "database text.sqlite cannot be read: file is not a database", script=True),
    Case("not a SQLite file (verify)", ("verify", "1", "--db", "text.sqlite"),
         "database text.sqlite cannot be read: file is not a database"),
    Case("not a SQLite file (report)", ("report", "1", "--db", "text.sqlite"),
         "database text.sqlite cannot be read: file is not a database"),
    Case("not a SQLite file (dashboard)", ("dashboard", "--db", "text.sqlite"),
         "database text.sqlite cannot be read: file is not a database"),
    Case("not a SQLite file (backtest --db, before simulating)", ("backtest", "--db", "text.sqlite"),
         "database text.sqlite cannot be read: file is not a database"),
    Case("a foreign SQLite database (backtest --db)", ("backtest", "--db", "foreign.sqlite"),
         "database foreign.sqlite is not a risk-agent database (it has other tables); give a new file"),
    Case("a foreign SQLite database (demo replaces only its own)", ("demo", "--db", "foreign.sqlite"),
         "foreign.sqlite is not a risk-agent database: the demo replaces only its own databases (give another --db)"),
    Case("unreachable PostgreSQL", ("status", "--db", "postgresql://agent@127.0.0.1:{closed_port}/agent"),
         "database postgresql://agent@127.0.0.1:{closed_port}/agent cannot be read: connection failed:", fragment=True),
    Case("unknown URL scheme", ("status", "--db", "mysql://agent@127.0.0.1/agent"),
         "--db 'mysql://agent@127.0.0.1/agent': unknown database URL scheme 'mysql' (give a SQLite file path, "
         "sqlite:///PATH or postgresql://USER@HOST:PORT/NAME)"),
    Case("unknown URL scheme (db-upgrade)", ("db-upgrade", "--db", "redis://localhost/0"),
         "--db 'redis://localhost/0': unknown database URL scheme 'redis' (give a SQLite file path, "
         "sqlite:///PATH or postgresql://USER@HOST:PORT/NAME)"),
    # --- service config
    Case("backfill file in another format than its config says", ("run", "--config", "format.toml"),
         "{tmp}/iso.csv: --format coingecko-daily does not fit: no column snapped_at; it looks like timestamp-price"),
    Case("backfill file that does not load", ("run", "--config", "empty.toml"), "{tmp}/empty.csv: file is empty"),
    Case("backfill format unknown", ("run", "--config", "unknown.toml"),
         "config: backfill_csv.WETH: format 'excel' is not one of cryptodatadownload, chainlink-rounds, "
         "coingecko-daily, "
         "coingecko-hourly, ohlcv, ohlcv-array, symbol-price, timestamp-price"),
    Case("backfill for an asset not configured", ("run", "--config", "other.toml"),
         "config: backfill_csv.WBTC: WBTC is not one of assets (WETH)"),
    # --- attestation and documents
    Case("--trust-dev-root not a PEM (verify)",
         ("verify", "1", "--db", "text.sqlite", "--trust-dev-root", "notpem.txt"),
         "--trust-dev-root notpem.txt is not a certificate (PEM or DER)"),
    Case("--trust-dev-root not a PEM (report)", ("report", "1", "--trust-dev-root", "notpem.txt"),
         "--trust-dev-root notpem.txt is not a certificate (PEM or DER)"),
    Case("--trust-dev-root not a PEM (enclave verify)",
         ("enclave", "verify", "document.bin", "--measurement", "ab", "--trust-dev-root", "notpem.txt"),
         "--trust-dev-root notpem.txt is not a certificate (PEM or DER)"),
    Case("a directory given as a document", ("enclave", "verify", ".", "--measurement", "ab"),
         ". is a directory, not a document"),
    Case("report format unknown", ("report", "1", "--format", "pdf"), "--format 'pdf' is not md or html"),
    # --- chains (a real anvil with Aave v3 and the steward deployed)
    Case("verify --rpc on the wrong chain", ("verify", "1", "--rpc", "{rpc}", "--deployment", "{other_chain}"),
         "the RPC serves chain 31337, but the deployment is for chain 1", chain=True),
    Case("propose on another chain", ("propose", "--rpc", "{rpc}", "--deployment", "{other_chain}"),
         "the RPC serves chain 31337, but the deployment is for chain 1", chain=True),
    Case("propose on an address that is not a PoolAddressesProvider",
         ("propose", "--rpc", "{rpc}", "--addresses-provider", "{eoa}"),
         "{eoa} is not an Aave v3 PoolAddressesProvider on this chain (no contract code there)", chain=True),
    Case("propose an asset the deployment does not list", ("propose", "--rpc", "{rpc}", "--deployment", "{deployment}",
                                                          "--assets", "DOGE"),
         "asset 'DOGE' is not listed on this market (listed: WETH, WBTC, USDC, LINK, CRV)", chain=True),
]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A real anvil with the system deployed, its deployment file, and one naming chain 1."""
    from chain.deploy import deploy_system
    from chain.node import connect, dev_accounts, start_anvil

    directory = tmp_path_factory.mktemp("market")
    with start_anvil(log_dir=directory) as node:
        w3 = connect(node.rpc_url)
        accounts = dev_accounts(w3)
        system = deploy_system(w3, accounts[0], governance=accounts[1].address, guardian=accounts[2].address,
                               operator=accounts[3].address)
        deployment = directory / "deployment.json"
        system.to_deployment().write(deployment)
        other = directory / "other-chain.json"
        other.write_text(json.dumps({**json.loads(deployment.read_text()), "chain_id": 1}))
        yield {"rpc": node.rpc_url, "deployment": str(deployment), "other_chain": str(other),
               "eoa": accounts[5].address}


def workspace(tmp_path: Path, demo: Path | None = None) -> Path:
    for name, content in FILES.items():
        (tmp_path / name).write_text(content)
    (tmp_path / "truncated.sqlite").write_bytes(_agent_database_bytes()[:3000])
    import sqlite3

    with sqlite3.connect(tmp_path / "foreign.sqlite") as connection:
        connection.execute("create table invoices (id integer primary key, total real)")
    backfills = {"format.toml": 'WETH = { file = "iso.csv", format = "coingecko-daily" }\n',
                 "empty.toml": 'WETH = "empty.csv"\n',
                 "unknown.toml": 'WETH = { file = "iso.csv", format = "excel" }\n',
                 "other.toml": 'WBTC = "iso.csv"\n'}
    for name, table in backfills.items():
        (tmp_path / name).write_text(CONFIG + table)
    return tmp_path


@cache
def _agent_database_bytes() -> bytes:
    """A real agent database's bytes (migrated schema), to cut short."""
    import tempfile

    from agent.store import make_engine

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "whole.sqlite"
        make_engine(str(path)).dispose()
        return path.read_bytes()


def _fill(text: str, values: dict) -> str:
    return text.format(**values)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_error_line_exit_2_nothing_written(case, tmp_path, capsys, request):
    values = {"tmp": tmp_path.resolve(), "closed_port": free_loopback_port()}
    if case.chain:
        values.update(request.getfixturevalue("market"))
    directory = workspace(tmp_path)
    argv = [_fill(a, values) for a in case.argv]
    expected = _fill(case.message, values)
    before = files_under(directory)
    runs = [run_in_process(argv, capsys, cwd=directory)]
    if case.script:
        runs.append(run_script(argv, cwd=directory))
    for result in runs:
        assert (result.code, result.stdout) == (2, ""), result
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        if case.fragment:
            assert expected in lines[0]
        else:
            assert lines[0] == f"error: {expected}"
        assert files_under(directory) == before


def test_iso_timestamps_under_pandas_3_load(tmp_path, capsys):
    """The ISO file that used to end in a traceback under pandas 3 loads: two hourly points,
    730.1 then 731.5."""
    result = run_in_process(["data", "inspect", "iso.csv", "--json"], capsys, cwd=workspace(tmp_path))
    assert (result.code, result.stderr) == (0, "")
    report = json.loads(result.stdout)
    assert report["timestamp_units"] == ["iso"] and report["observations"] == 2
    assert (report["first_s"], report["first_price_usd"], report["last_price_usd"]) == (1_609_459_200, 730.1, 731.5)
