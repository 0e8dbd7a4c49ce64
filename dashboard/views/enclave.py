"""Enclave: the measurement of this checkout, each stored attestation document decoded and
verified (the development root only when the operator opted in), its registration."""

from __future__ import annotations

import streamlit as st

from agent.times import utc
from dashboard import queries
from dashboard.state import policy
from agent.verification import decode, verify_attestation
from enclave.image import measure


def render(engine, shift: int) -> None:
    st.title("Enclave")
    st.write("Measurement (PCR0) of the open code in this checkout, SHA-384 over the image manifest "
             "(`risk-agent enclave measure` prints the same):")
    st.code(measure().hex)
    trust = policy()
    st.caption("Trusted roots: AWS Nitro" + (
        " and the local development root (the operator opted in)." if trust.trust_dev_root
        else " only (`risk-agent dashboard --trust-dev-root` adds the local demo's root)."))
    documents = queries.attestations(engine)
    if not documents:
        st.info("No attestation document stored yet.")
        return
    for row in documents:
        st.subheader(f"Key {row.enclave_address}")
        st.text(f"Registration on chain: {row.registration_state} · operation {row.registration_operation_id or '—'}")
        decoded = decode(row.document)
        if "timestamp" in decoded:
            st.text(f"Attested at {utc(decoded['timestamp'] // 1000)} (chain-independent wall clock of the enclave)")
        verdict = verify_attestation(row, expected_measurement=measure().digest, policy=trust)
        (st.success if verdict.ok else st.error)(verdict.message)
        if verdict.chain:
            st.text("Certificate chain: " + " ← ".join(verdict.chain))
        st.caption("This checks the document alone; each proposal's page also checks that its signature recovers to "
                   "this key and that the key is its decision's enclave.")
        with st.expander("Decoded attestation document"):
            st.json(decoded)
