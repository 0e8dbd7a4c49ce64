"""risk-agent: the command line of the service, the enclave, the chain tools and backtests.

Errors users can act on (bad config, a node that is down, a missing artifact, a malformed
option) print one `error:` line on stderr and exit 2, before anything is written; anything else
is a bug and keeps its traceback. Commands that report take `--json`.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_chain import chain_app, enclave_app
from agent.cli_common import (
    check_writable_file,
    database_target,
    fail,
    make_parent,
    parse_day,
    parse_hex32,
    parse_list,
    read_only_engine,
    read_root_certificate,
    writable_engine,
)
from agent.cli_data import data_app
from agent.errors import RiskAgentError
from chain.errors import ChainError
from enclave.errors import EnclaveError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.splitlines()[0])
app.add_typer(data_app, name="data")
app.add_typer(chain_app, name="chain")
app.add_typer(enclave_app, name="enclave")

DEMO_DB = Path("var/demo.sqlite")
SWEEP_OUT = Path("var/sweep.csv")
USER_ERRORS: tuple[type[Exception], ...] = (RiskAgentError, ChainError, EnclaveError)


@app.command()
def demo(
    cycles: Annotated[int,
                      typer.Option(min=1, max=28,
                                   help="Days to replay around the 2021-05-19 crash (one decision a day).")] = 10,
    db: Annotated[Path,
                  typer.Option(help="SQLite file the demo writes (replaced if it is a demo database).")] = DEMO_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the whole system on embedded defaults: Aave v3 on the in-process EVM, SQLite, local enclave."""
    from tqdm import tqdm

    from agent.cli_common import probe_database
    from agent.demo import run_demo, summary_json
    from enclave.nsm import DEFAULT_HOME

    check_writable_file(db, default=DEMO_DB)
    if db.exists() and db.stat().st_size > 0:
        tables, _ = probe_database(str(db))
        if tables and "proposal" not in tables:
            raise fail(f"{db} is not a risk-agent database: the demo replaces only its own databases (give another "
                       f"--db)")
    typer.echo(f"demo: deploying Aave v3 and the steward to the in-process EVM, starting the enclave, "
               f"replaying {cycles} days of prices...", err=True)
    make_parent(db)
    with tqdm(total=cycles * 24, desc="replay", unit="h", file=sys.stderr, disable=as_json) as bar:
        summary = run_demo(cycles, db, DEFAULT_HOME, progress=lambda done, _total: bar.update(done - bar.n))
    if as_json:
        typer.echo(summary_json(summary))
        return
    for line in demo_lines(summary, DEFAULT_HOME / "dev-ca" / "root.pem"):
        typer.echo(line)


def demo_lines(summary, dev_root: Path) -> list[str]:
    """What the demo prints at the end (the README shows these lines)."""
    shown_root = f"~/{dev_root.relative_to(Path.home())}" if dev_root.is_relative_to(Path.home()) else str(dev_root)
    lines = [
        f"prices: {summary.price_source.split('; ')[0]}; {summary.hours_replayed} hours replayed, "
        f"WETH ${summary.weth_price_start_usd:,.2f} -> ${summary.weth_price_end_usd:,.2f}",
        f"enclave {summary.enclave_address} (measurement {summary.measurement[:16]}...) registered through the "
        f"registrar and timelock",
        f"decisions: {summary.decisions}; proposals by state: "
        + ", ".join(f"{state} {count}" for state, count in summary.proposals_by_state.items()),
        f"{'WETH':<28}{'before':>14}{'after':>14}",
        *(f"  {key:<26}{value:>14,}{summary.weth_after[key]:>14,}" for key, value in summary.weth_before.items()),
        f"liquidations: {summary.liquidations}; bad debt (debt left on accounts with no collateral): "
        f"${summary.bad_debt_usd:,.2f} on {summary.accounts_with_bad_debt} accounts",
        f"database: {summary.database} ({summary.seconds:.0f} s)",
        # the demo's enclave is attested by the local development CA: trusted only when named
        f"verify a proposal:  risk-agent verify 1 --db {summary.database} --trust-dev-root {shown_root}",
        f"its risk report:    risk-agent report 1 --db {summary.database} --format html",
        f"open the dashboard: risk-agent dashboard --db {summary.database} --trust-dev-root",
    ]
    return lines


@app.command()
def run(config: Annotated[Path, typer.Option(help="TOML config file (docs/operating.md lists every key).")]) -> None:
    """Run the agent service on its schedule (SIGTERM or Ctrl-C stops it cleanly)."""
    from agent.config import AgentConfig
    from agent.service import run_service

    settings = AgentConfig.load(config)
    for symbol, source in settings.backfill_sources().items():
        source.load(symbol)  # a backfill file that does not load fails here, before any process starts
    database_target(settings.database_url, "database_url")
    run_service(settings)


@app.command()
def status(
    db: Annotated[str, typer.Option(help="Database file or URL (opened read-only).")] = "var/agent.sqlite",
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show proposals by state, what waits in the timelock, each job's runs and last error, and
    the last snapshot. Never writes or migrates the database."""
    from agent.status import read_status, status_lines

    report = read_status(read_only_engine(db), database_target(db))
    if as_json:
        typer.echo(json.dumps(report, indent=1))
        return
    for line in status_lines(report):
        typer.echo(line)


@app.command()
def verify(
    proposal_id: Annotated[int | None, typer.Argument(help="A proposal in --db (omit with --update).")] = None,
    db: Annotated[str, typer.Option(help="Database file or URL (opened read-only).")] = "var/demo.sqlite",
    rpc: Annotated[str | None, typer.Option(help="Re-read the inputs and the record from this node.")] = None,
    deployment_file: Annotated[Path,
                               typer.Option("--deployment",
                                            help="Deployment file (with --rpc).")] = Path("var/deployment.json"),
    update: Annotated[str | None,
                      typer.Option(help="Update hash: verify from the chain alone (needs --rpc; no database).")] = None,
    trust_dev_root: Annotated[Path | None,
                              typer.Option(help="Also trust this development root (PEM); never in production.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check an update: inputs hash, inputs re-read on chain, re-run bytes, signature,
    attestation, chain record. Exit 0 only when every check holds."""
    from agent.verify import verify_on_chain, verify_stored
    from chain.deployment import Deployment
    from enclave.attestation import TrustAnchors

    anchors = TrustAnchors()
    if trust_dev_root is not None:
        anchors = anchors.with_root(read_root_certificate(trust_dev_root))
    w3 = deployment = None
    if rpc:
        from chain.node import connect

        w3 = connect(rpc)
        deployment = Deployment.read(deployment_file)
        deployment.check_chain(w3)
    if update is not None:
        if w3 is None:
            raise fail("--update verifies from the chain alone: give --rpc and --deployment")
        checks = verify_on_chain(w3, deployment, parse_hex32(update, "--update"), anchors)
    elif proposal_id is None:
        raise fail("give a proposal id (with --db) or --update HASH (with --rpc)")
    else:
        read_only_engine(db)  # a missing, foreign or unreadable database is one line here
        checks = verify_stored(database_target(db), proposal_id, anchors, w3, deployment)
    if as_json:
        typer.echo(json.dumps([{"check": c.name, "passed": c.passed, "detail": c.detail} for c in checks], indent=1))
    else:
        for check in checks:
            typer.echo(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    if not all(check.passed for check in checks):
        raise typer.Exit(code=1)


@app.command()
def propose(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the market's chain (a node or an anvil fork).")],
    addresses_provider: Annotated[str | None, typer.Option(help="The market's Aave v3 PoolAddressesProvider.")] = None,
    deployment_file: Annotated[
        Path | None,
        typer.Option("--deployment", help="A deployment file instead (provider, Multicall3, pairs, steward)."),
    ] = None,
    assets: Annotated[str | None,
                      typer.Option(help="Comma-separated reserve symbols (default: every reserve).")] = None,
    steward: Annotated[str | None,
                       typer.Option(help="A RiskSteward on the market: its bounds and cooldowns apply.")] = None,
    enclave: Annotated[str | None,
                       typer.Option(help="Use this enclave's nonce counter (to match what it would sign).")] = None,
    block: Annotated[int | None, typer.Option(min=0, help="Decide as of this block (default: latest).")] = None,
    multicall: Annotated[str | None, typer.Option(help="Multicall3 address (default: the canonical one).")] = None,
    positions_from_block: Annotated[int | None,
                                    typer.Option(min=0,
                                                 help="Discover borrowers from pool events since this block.")] = None,
    depth_usd: Annotated[float | None,
                         typer.Option(min=0.0, help="Stated DEX depth (USD) for reserves without a pair.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommendation as JSON.")] = False,
) -> None:
    """Shadow mode: read a live market, run the same decision path as the service and print
    what the enclave would sign (before -> after, rationale, metrics). No keys, no enclave
    registration, nothing submitted."""
    from agent.cli_common import parse_address
    from agent.shadow import shadow_decision
    from chain.deployment import CANONICAL_MULTICALL3, Deployment
    from chain.node import connect

    chosen = parse_list(assets, "--assets") if assets is not None else None
    w3 = connect(rpc)
    pairs: dict[str, str] = {}
    if deployment_file is not None:
        deployment = Deployment.read(deployment_file)
        deployment.check_chain(w3)
        addresses_provider = addresses_provider or deployment.addresses_provider
        multicall = multicall or deployment.multicall
        steward = steward or deployment.steward
        pairs = deployment.dex_pairs
        positions_from_block = deployment.deployed_at_block if positions_from_block is None else positions_from_block
    if addresses_provider is None:
        raise fail("give --addresses-provider (or --deployment FILE)")
    result = shadow_decision(
        w3, parse_address(addresses_provider, "--addresses-provider"), chosen,
        parse_address(steward, "--steward") if steward else None, block, depth_usd,
        multicall=parse_address(multicall, "--multicall") if multicall else CANONICAL_MULTICALL3, dex_pairs=pairs,
        positions_from_block=positions_from_block, enclave=parse_address(enclave, "--enclave") if enclave else None,
    )
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=1))
        return
    for line in result.lines():
        typer.echo(line)


@app.command("db-upgrade")
def db_upgrade(db: Annotated[str,
                             typer.Option(help="Database file or URL to bring to this version's schema.")]) -> None:
    """Migrate a database to this version's schema (the service does it on start; read-only
    commands never do)."""
    from agent.store import SCHEMA_REVISION

    writable_engine(db, upgrade_older=True)
    typer.echo(f"database {db} is at schema revision {SCHEMA_REVISION}")


MARKETS = ("dynamic", "fixed")
MARKET_HELP = ("dynamic: borrowers arrive, leave and re-lever (fitted to Aave v2) and DEX depth follows the bundled "
               "reserves; fixed: a fixed population and constant depth.")
CONFIG_HELP = "Another strategy config (TOML) to try; default: the measured one the enclave runs."


def check_market(market: str) -> None:
    if market not in MARKETS:
        raise fail(f"--market {market!r} is not one of {', '.join(MARKETS)}")


def check_strategy_config(path: Path | None) -> None:
    """Loads it now: a missing or malformed strategy config is one line before anything runs."""
    if path is not None:
        from strategies.config import load_config

        load_config(path)


DATA_HELP = ("A price file for the one asset, in any format `risk-agent data inspect` reads, detected from its "
             "content: ccxt/Binance OHLCV (ISO or unix s/ms), CryptoDataDownload, CoinGecko, Chainlink rounds "
             "(decimals stated in the file), symbol,timestamp,price, timestamp,price, JSON candles.")


@app.command()
def backtest(
    assets: Annotated[str, typer.Option(help="Comma-separated assets, e.g. ETH or WETH,WBTC.")] = "ETH",
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")] = "2020-03-01",
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC).")] = "2020-03-31",
    strategy: Annotated[
        str, typer.Option(help="agent, agent-no-delay, static-v3, static-v2, smart-ltv, chaos-caps.")
    ] = "agent",
    baseline: Annotated[str, typer.Option(help="Strategy to compare against ('' for none).")] = "static-v3",
    data: Annotated[Path | None, typer.Option(help=DATA_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the borrower population (same seed, same result).")] = 1,
    positions: Annotated[int, typer.Option(min=1, help="Borrower positions per asset (at least 1).")] = 1_000,
    report: Annotated[
        Path, typer.Option(help="Directory for report.html and backtest.png (created).")
    ] = Path("var/backtest"),
    db: Annotated[str | None,
                  typer.Option(help="Save the run in this database (for the dashboard); checked first.")] = None,
    market: Annotated[str, typer.Option(help=MARKET_HELP)] = "dynamic",
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Replay market history through a strategy against a baseline; writes a report."""
    from tqdm import tqdm

    from backtests.baselines import strategy_for
    from backtests.data import DataError
    from backtests.report import metrics_table, write_html
    from backtests.run import BacktestSpec, load_paths, run_backtest, with_strategy

    chosen = parse_list(assets, "--assets")
    start, end = parse_day(start, "--from"), parse_day(end, "--to")
    if report.exists() and not report.is_dir():
        raise fail(f"--report {report} is a file, not a directory")
    engine = writable_engine(db) if db else None  # a bad --db fails before hours of simulation
    check_market(market)
    check_strategy_config(config)
    spec = BacktestSpec(chosen, start, end, strategy, seed, data, positions_per_asset=positions, config_file=config,
                        market=market)
    names = [strategy] + ([baseline] if baseline and baseline != strategy else [])
    try:
        for name in names:
            strategy_for(name)  # a misspelt strategy fails here, before any progress bar
        paths, start_hour = load_paths(spec)
        results = []
        for name in names:
            with tqdm(total=len(paths[0].prices_usd) - start_hour, desc=name, unit="h", disable=as_json,
                      file=sys.stderr) as bar:
                results.append(run_backtest(with_strategy(spec, name), progress=lambda _t: bar.update(1)))
    except DataError as error:
        raise fail(str(error)) from None
    page = write_html(results, report,
                      f"{','.join(spec.assets)} {start} to {end}: {' vs '.join(r.strategy for r in results)}")
    if engine is not None:
        save_runs(engine, spec, results, str(page))
    if as_json:
        typer.echo(json.dumps({"report": str(page), "metrics": {r.strategy: r.metrics() for r in results}}, indent=1))
        return
    typer.echo(metrics_table(results).to_string(float_format=lambda v: f"{v:,.2f}"))
    typer.echo(f"report: {page}")


def save_runs(engine, spec, results, report_path: str) -> None:
    from sqlmodel import Session

    from agent.store import BacktestRunRow

    with Session(engine) as session:
        for result in results:
            session.add(BacktestRunRow(strategy=result.strategy, assets=",".join(spec.assets), period_start=spec.start,
                                       period_end=spec.end, seed=spec.seed, metrics_json=json.dumps(result.metrics()),
                                       report_path=report_path))
        session.commit()


def parse_periods(text: str) -> list[tuple[str, str]]:
    """'2020-03-01:2020-03-31,2021-05-01:2021-05-31' -> [(from, to), ...], each checked."""
    periods = []
    for part in parse_list(text, "--periods"):
        days = part.split(":")
        if len(days) != 2:
            raise fail(f"--periods {part!r} is not FROM:TO (e.g. 2020-03-01:2020-03-31)")
        first, last = parse_day(days[0], "--periods"), parse_day(days[1], "--periods")
        if last <= first:
            raise fail(f"--periods {part!r}: {last} is not after {first}")
        periods.append((first, last))
    return periods


def parse_numbers(text: str, option: str, kind: type, *, positive: bool = False) -> list:
    """Comma-separated whole numbers (kind int, at least 0) or numbers (kind float, > 0 if `positive`)."""
    values = []
    for part in parse_list(text, option):
        try:
            value = kind(part)
            if not math.isfinite(value):
                raise ValueError(part)
        except ValueError:
            raise fail(f"{option} {part!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if value < 0 or (positive and value == 0):
            raise fail(f"{option} {part!r} must be {'greater than 0' if positive else 'at least 0'}")
        values.append(value)
    return values


@app.command()
def sweep(
    assets: Annotated[str, typer.Option(help="Comma-separated assets, e.g. ETH.")] = "ETH",
    strategies: Annotated[
        str, typer.Option(help="Comma-separated strategy names (see backtest --strategy).")
    ] = "agent,static-v3",
    periods: Annotated[
        str, typer.Option(help="Comma-separated FROM:TO periods, days as YYYY-MM-DD.")
    ] = "2020-03-01:2020-03-31,2021-05-01:2021-05-31",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds (whole numbers).")] = "1,2",
    depth_scales: Annotated[str,
                            typer.Option(help="Comma-separated multipliers of the default DEX depth (> 0).")] = "1",
    workers: Annotated[int, typer.Option(min=1, help="Local Dask workers.")] = 2,
    scheduler: Annotated[str | None,
                         typer.Option(help="Address of an existing Dask scheduler (tcp://HOST:PORT).")] = None,
    out: Annotated[Path, typer.Option(help="CSV of the results table (its directory must exist).")] = SWEEP_OUT,
    market: Annotated[str, typer.Option(help=MARKET_HELP)] = "dynamic",
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results table as JSON records.")] = False,
) -> None:
    """Run a grid of backtests (strategies x settings x periods x seeds) on Dask."""
    from tqdm import tqdm

    from backtests.baselines import strategy_for
    from backtests.data import DataError
    from backtests.run import BacktestSpec, load_paths
    from backtests.sweep import grid, run_sweep

    names = parse_list(strategies, "--strategies")
    period_list = parse_periods(periods)
    seed_list = parse_numbers(seeds, "--seeds", int)
    scales = parse_numbers(depth_scales, "--depth-scales", float, positive=True)
    check_writable_file(out, default=SWEEP_OUT)
    check_market(market)
    check_strategy_config(config)
    base = BacktestSpec(parse_list(assets, "--assets"), "", "", config_file=config, market=market)
    try:
        for name in dict.fromkeys(names):
            strategy_for(name)
        specs = grid(base, list(names), period_list, seed_list, [{"depth_scale": d} for d in scales])
        for spec in {(s.start, s.end): s for s in specs}.values():
            load_paths(spec)  # bad input fails here, in one line, before any worker starts
    except DataError as error:
        raise fail(str(error)) from None
    with tqdm(total=len(specs), desc="sweep", unit="run", file=sys.stderr, disable=as_json) as bar:
        table = run_sweep(specs, workers=workers, scheduler=scheduler, progress=lambda _done: bar.update(1))
    table.to_csv(make_parent(out), index=False)
    columns = ["strategy", "start", "seed", "depth_scale", "bad_debt_usd", "liquidated_debt_usd", "updates", "seconds"]
    if as_json:
        typer.echo(json.dumps({"table": str(out), "runs": json.loads(table.to_json(orient="records"))}, indent=1))
        return
    typer.echo(table[columns].to_string(float_format=lambda v: f"{v:,.1f}"))
    typer.echo(f"table: {out}")


@app.command()
def report(
    proposal_id: Annotated[int, typer.Argument(help="A proposal in --db.")],
    db: Annotated[str, typer.Option(help="Database file or URL (opened read-only).")] = "var/demo.sqlite",
    format_name: Annotated[str,
                           typer.Option("--format",
                                        help="md (with PNG files next to it) or html (plots embedded).")] = "md",
    out: Annotated[Path | None, typer.Option(help="File to write (default: proposal-ID.md or .html here).")] = None,
    trust_dev_root: Annotated[Path | None, typer.Option(help="Also trust this development root (PEM) for the "
                                                             "attestation; never in production.")] = None,
    backtest_days: Annotated[int, typer.Option(min=1, help="Days of stored price history the backtest replays.")] = 90,
    as_json: Annotated[bool,
                       typer.Option("--json", help="Print the report's figures as JSON (writes no file).")] = False,
) -> None:
    """Write the risk report a DAO reads before the veto deadline: before -> after, method,
    VaR/ES, provenance, liquidations, bad debt, a backtest, attestation, verify and veto."""
    from agent.report import build_report, render_html, render_markdown, report_json
    from agent.verification import TrustPolicy

    if format_name not in ("md", "html"):
        raise fail(f"--format {format_name!r} is not md or html")
    path = out or Path(f"proposal-{proposal_id}.{format_name}")
    if not as_json:
        check_writable_file(path)
    policy = TrustPolicy()
    if trust_dev_root is not None:
        read_root_certificate(trust_dev_root)
        policy = TrustPolicy.for_root_file(trust_dev_root)
    built = build_report(read_only_engine(db), proposal_id, database=db, policy=policy, backtest_days=backtest_days)
    if as_json:
        typer.echo(json.dumps(report_json(built), indent=1))
        return
    if format_name == "html":
        path.write_text(render_html(built))
        typer.echo(f"report: {path}")
    else:
        pictures = render_markdown(built, path)
        typer.echo(f"report: {path} (+ {len(pictures)} PNG files: {', '.join(p.name for p in pictures)})")


@app.command()
def dashboard(
    db: Annotated[
        str, typer.Option(help="Database file or URL (SQLite or PostgreSQL; opened read-only).")
    ] = "var/demo.sqlite",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Loopback port to serve on.")] = 8501,
    trust_dev_root: Annotated[bool, typer.Option(help="Trust the development attestation root under $RISK_AGENT_HOME "
                                                      "(local demo only; never in production).")] = False,
) -> None:
    """Open the read-only Streamlit dashboard on a database (it ends with this command, even if
    this command is killed)."""
    import subprocess

    from agent.verification import TRUST_DEV_ROOT_ENV
    from enclave.lifetime import die_with_parent

    read_only_engine(db)  # missing, foreign or unreadable: one line here, not a page of errors
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    typer.echo(f"dashboard on http://127.0.0.1:{port} (database {db}); Ctrl-C to stop")
    command = [sys.executable, "-m", "streamlit", "run", str(app_path), "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal"]
    env = {**os.environ, "RISK_AGENT_DASHBOARD_DB": database_target(db),
           TRUST_DEV_ROOT_ENV: "1" if trust_dev_root else "0"}
    child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent())
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        code = child.wait()
    raise typer.Exit(code)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors a user can act on: the data and strategy-config families are imported lazily
    (they pull in pandas), only once something has failed."""
    from backtests.formats import DataError
    from strategies.config import StrategyConfigError
    from strategies.inputs import InputsError

    return (*USER_ERRORS, DataError, StrategyConfigError, InputsError)


def one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_cli(argv: list[str] | None = None) -> int:
    """The whole command line, returning the exit code: 0 done, 1 a check failed (verify),
    2 bad input (one `error:` line on stderr). Usage errors (a malformed option value, an
    unknown option) are one line too, instead of click's framed box."""
    try:
        result = app(args=argv, prog_name="risk-agent", standalone_mode=False)
    except typer.TyperException as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            return 2  # the help was printed
        message = error.format_message() if hasattr(error, "format_message") else one_line(error)
        command = getattr(getattr(error, "ctx", None), "command_path", "risk-agent")
        typer.echo(f"error: {one_line(Exception(message))} (see `{command} --help`)", err=True)
        return getattr(error, "exit_code", 2) or 2
    except Exception as error:  # noqa: BLE001 - sorted below: a user's error is one line, a bug keeps its traceback
        if not isinstance(error, _user_errors()):
            raise
        typer.echo(f"error: {one_line(error)}", err=True)
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    from enclave.memory import keep_freed_memory

    keep_freed_memory()  # the service decides again and again: keep the encoding's memory between decisions
    sys.exit(run_cli())


if __name__ == "__main__":
    main()
