"""`risk-agent chain ...` (deploy, read) and `risk-agent enclave ...` (measure, verify, serve,
register)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_common import check_writable_file, fail, parse_address, read_root_certificate, signer_from_env

DEPLOYMENT_FILE = Path("var/deployment.json")
chain_app = typer.Typer(no_args_is_help=True, help="Deploy the system, read a market.")
enclave_app = typer.Typer(no_args_is_help=True, help="Enclave image measurement, attestation and registration.")


@chain_app.command("deploy")
def chain_deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the node.")],
    out: Annotated[Path, typer.Option(help="Where to write the deployment file.")] = DEPLOYMENT_FILE,
    min_delay: Annotated[int, typer.Option(min=1, help="Timelock delay in seconds (1 day in production).")] = 86_400,
    deployer_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the deployer's hex key (dev chain: account 0).")
    ] = None,
    governance: Annotated[str | None,
                          typer.Option(help="Governance address: timelock proposer (dev chain: account 1).")] = None,
    guardian: Annotated[str | None,
                        typer.Option(help="Guardian address: veto and pause (required off the dev chain).")] = None,
    operator: Annotated[
        str | None, typer.Option(help="Operator allowed to propose enclave registrations (dev chain: account 3).")
    ] = None,
) -> None:
    """Deploy Aave v3 (unmodified), the timelock, steward, registrar and rate-strategy factory;
    hand every role to governance; write the deployment file."""
    from chain.deploy import SystemConfig, deploy_system, is_local_dev_chain
    from chain.node import connect, dev_accounts

    check_writable_file(out, default=DEPLOYMENT_FILE)
    w3 = connect(rpc)
    deployer = signer_from_env(w3, deployer_key_env, "--deployer-key-env")
    dev = is_local_dev_chain(w3)
    accounts = dev_accounts(w3) if dev else []
    if not dev and (governance is None or guardian is None):
        raise fail(f"chain {w3.eth.chain_id} is not the local dev chain: name --governance and --guardian")
    governance_address = parse_address(governance, "--governance") if governance else accounts[1].address
    guardian_address = parse_address(guardian, "--guardian") if guardian else accounts[2].address
    operator_address = parse_address(operator,
                                     "--operator") if operator else (accounts[3].address if dev else governance_address)
    system = deploy_system(w3, deployer, governance=governance_address, guardian=guardian_address,
                           operator=operator_address, config=SystemConfig(min_delay_seconds=min_delay))
    system.to_deployment().write(out)
    typer.echo(f"deployed to chain {system.chain_id}; deployment file: {out}")
    rows = {
        "Aave PoolAddressesProvider": system.market.addresses_provider,
        "Aave Pool": system.market.pool,
        "timelock": system.timelock,
        "steward": system.steward,
        "enclave registrar": system.registrar,
        "governance / guardian / operator": f"{system.governance} / {system.guardian} / {system.operator}",
    }
    rows.update({f"{r.symbol} token / feed / pair": f"{r.underlying} / {r.feed} / {r.pair}"
                 for r in system.market.reserves})
    for label, address in rows.items():
        typer.echo(f"  {label:<34} {address}")


@chain_app.command("read")
def chain_read(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the node.")],
    deployment_file: Annotated[Path,
                               typer.Option("--deployment", help="Deployment file.")] = Path("var/deployment.json"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshot as JSON.")] = False,
) -> None:
    """Read every reserve in one Multicall3 round trip and print it."""
    from dataclasses import asdict

    from chain.deployment import Deployment
    from chain.node import connect
    from chain.reader import MarketReader

    deployment = Deployment.read(deployment_file)
    w3 = connect(rpc)
    deployment.check_chain(w3)
    snapshot = MarketReader.from_deployment(w3, deployment).read()
    if as_json:
        typer.echo(json.dumps({"block": snapshot.block_number, "block_hash": snapshot.block_hash,
                               "timestamp": snapshot.block_timestamp,
                               "reserves": [{**asdict(r), "params": r.params.as_dict()} for r in snapshot.reserves]},
                              indent=1, default=str))
        return
    from agent.times import utc

    typer.echo(f"block {snapshot.block_number:,} at {utc(snapshot.block_timestamp)}")
    typer.echo(f"{'asset':<8}{'price $':>14}{'LTV':>7}{'LT':>7}{'LB':>7}{'util':>8}"
               f"{'supply cap':>16}{'borrow cap':>16}")
    for r in snapshot.reserves:
        p = r.params
        typer.echo(
            f"{r.symbol:<8}{r.price_usd:>14,.2f}{p.ltv_bps:>7}{p.liquidation_threshold_bps:>7}"
            f"{p.liquidation_bonus_bps:>7}{r.utilization:>8.1%}{p.supply_cap_tokens:>16,}{p.borrow_cap_tokens:>16,}"
        )


@enclave_app.command("measure")
def enclave_measure(
    manifest: Annotated[bool, typer.Option(help="Also print the manifest (path, size, SHA-384).")] = False,
) -> None:
    """Print the enclave image measurement (SHA-384 over the sorted manifest, as PCR0)."""
    from enclave.image import measure

    measurement = measure()
    if manifest:
        typer.echo(measurement.manifest.decode(), nl=False)
    typer.echo(measurement.hex)


@enclave_app.command("verify")
def enclave_verify(
    document: Annotated[Path, typer.Argument(help="Attestation document (CBOR COSE_Sign1).")],
    measurement: Annotated[str, typer.Option(help="Expected PCR0, hex.")],
    nonce: Annotated[str | None, typer.Option(help="Expected nonce, hex.")] = None,
    max_age: Annotated[float, typer.Option(min=0.0, help="Maximum age in seconds (checked by default).")] = 300.0,
    at_document_time: Annotated[
        bool, typer.Option(help="Judge age at the document's own timestamp (archived documents).")
    ] = False,
    trust_dev_root: Annotated[Path | None,
                              typer.Option(help="Also trust this development root (PEM); never in production.")] = None,
) -> None:
    """Verify an attestation document; exit 0 only when every check holds."""
    from enclave.attestation import TrustAnchors, verify_document

    if document.is_dir():
        raise fail(f"{document} is a directory, not a document")
    try:
        raw = document.read_bytes()
        expected = bytes.fromhex(measurement.removeprefix("0x"))
        expected_nonce = bytes.fromhex(nonce.removeprefix("0x")) if nonce else None
    except FileNotFoundError:
        raise fail(f"document {document} not found") from None
    except ValueError:
        raise fail("--measurement and --nonce must be hex") from None
    anchors = TrustAnchors()
    if trust_dev_root:
        anchors = anchors.with_root(read_root_certificate(trust_dev_root))
    now_ms = None
    if at_document_time:
        import cbor2

        try:
            now_ms = cbor2.loads(cbor2.loads(raw)[2])["timestamp"]
        except Exception:  # noqa: BLE001 - the verifier below gives the precise reason
            now_ms = None
    verified = verify_document(raw, expected_measurement=expected, anchors=anchors, expected_nonce=expected_nonce,
                               max_age_s=max_age, now_ms=now_ms)
    typer.echo(f"verified: module {verified.module_id}, PCR0 {verified.measurement.hex()[:24]}..., "
               f"key {verified.enclave_address or 'none'}, chain {' <- '.join(verified.certificate_chain)}")


@enclave_app.command("serve")
def enclave_serve(
    port: Annotated[int, typer.Option(help="Loopback port (0: any free one); ignored with --listen.")] = 0,
    listen: Annotated[str | None, typer.Option(help="http://127.0.0.1:PORT, unix:///PATH or vsock://CID:PORT "
                                                    "(Nitro: vsock://any:5005).")] = None,
    backend: Annotated[str, typer.Option(help="Attestation back end: local or nitro.")] = "local",
    token_file: Annotated[Path | None, typer.Option(help="File holding the clients' bearer token (else $"
                                                         "RISK_AGENT_ENCLAVE_TOKEN; neither: local development, "
                                                         "no client authentication, local back end only).")] = None,
) -> None:
    """Run the enclave process in the foreground (what the agent starts in local mode)."""
    import os

    from enclave.server import TOKEN_ENV
    from enclave.server import main as serve

    if backend not in ("local", "nitro"):
        raise fail(f"--backend {backend!r} is not local or nitro")
    if token_file is not None and not token_file.is_file():
        raise fail(f"--token-file {token_file} is not a file")
    arguments = ["--backend", backend, *(["--listen", listen] if listen else ["--port", str(port)])]
    if token_file is not None:
        arguments += ["--token-file", str(token_file)]
    elif not os.environ.get(TOKEN_ENV, "").strip():
        if backend != "local":
            raise fail(f"the {backend} back end serves only authenticated clients: give --token-file or set "
                       f"{TOKEN_ENV}")
        arguments.append("--dev")
    raise typer.Exit(serve(arguments) or 0)


@enclave_app.command("register")
def enclave_register(
    url: Annotated[str, typer.Option(help="Enclave endpoint.")],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    deployment_file: Annotated[Path,
                               typer.Option("--deployment", help="Deployment file.")] = Path("var/deployment.json"),
    operator_key_env: Annotated[
        str | None, typer.Option(help="Env var with the registrar operator's key (dev chain: account 3).")
    ] = None,
    trust_dev_root: Annotated[Path | None, typer.Option(help="Trust this development root (PEM).")] = None,
) -> None:
    """Attest an enclave with a fresh nonce and propose its key's registration through the
    registrar (it waits the timelock delay; the guardian can veto it)."""
    from agent.registration import schedule_registration
    from chain.deployment import Deployment
    from chain.node import connect
    from chain.steward import RegistrarClient
    from enclave.attestation import TrustAnchors
    from enclave.client import EnclaveClient
    from enclave.image import measure

    deployment = Deployment.read(deployment_file)
    if deployment.registrar is None:
        raise fail(f"deployment file {deployment_file} names no enclave registrar")
    w3 = connect(rpc)
    deployment.check_chain(w3)
    operator = signer_from_env(w3, operator_key_env, "--operator-key-env", dev_index=3)
    anchors = TrustAnchors().with_root(read_root_certificate(trust_dev_root)) if trust_dev_root else TrustAnchors()
    client = EnclaveClient(url, measure().digest, anchors)
    attested = client.attest()
    batch = schedule_registration(RegistrarClient(w3, deployment.registrar, operator), attested, client.document)
    typer.echo(f"enclave key {attested.enclave_address} attested; registration scheduled as operation "
               f"0x{batch.operation_id.hex()} (executable after {deployment.min_delay_seconds} s unless the guardian "
               "vetoes it)")
