"""Bound contracts are built once per (connection, artifact, address): web3 spends 2-7 ms on
each, and the reader, the jobs and verify bind the same ones on every read."""

from __future__ import annotations

import gc
import weakref

from web3 import Web3

from chain.aave import aave_contract, our_contract

POOL = "0x" + "11" * 20
OTHER = "0x" + "22" * 20


def test_one_binding_per_connection_artifact_and_address():
    w3, other_w3 = Web3(), Web3()
    pool = aave_contract(w3, "Pool", POOL)
    assert aave_contract(w3, "Pool", POOL.upper().replace("0X", "0x")) is pool  # any spelling of the address
    assert pool.address == Web3.to_checksum_address(POOL) and pool.w3 is w3
    assert aave_contract(w3, "Pool", OTHER) is not pool
    assert aave_contract(w3, "PoolConfigurator", POOL) is not pool
    assert our_contract(w3, "TestToken", POOL) is not pool
    assert "setReserveFreeze" in {f["name"] for f in aave_contract(w3, "PoolConfigurator", POOL).abi if "name" in f}
    elsewhere = aave_contract(other_w3, "Pool", POOL)
    assert elsewhere is not pool and elsewhere.w3 is other_w3


def test_a_connection_with_bindings_is_still_freed():
    """Each binding holds its connection: kept in a module-level table they would keep every
    connection (an in-process chain with all its state) alive."""
    w3 = Web3()
    aave_contract(w3, "Pool", POOL)
    gone = weakref.ref(w3)
    del w3
    gc.collect()
    assert gone() is None
