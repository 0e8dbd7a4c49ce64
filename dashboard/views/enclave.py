"""Enclave: the measurement, each attestation document decoded and verified, registration status."""

from __future__ import annotations

import streamlit as st

from dashboard import queries
from dashboard.verification import decode, verify_attestation
from enclave.image import measure


def render(engine) -> None:
    st.title("Enclave")
    st.write("Measurement of the open code in this checkout (SHA-384 over the image manifest):")
    st.code(measure().hex)
    documents = queries.attestations(engine)
    if not documents:
        st.info("No attestation document stored yet.")
        return
    for row in documents:
        st.subheader(f"Key {row.enclave_address}")
        st.write(f"Registration on chain: **{row.registration_state}** · operation {row.registration_operation_id or '—'}")
        verdict = verify_attestation(row)
        (st.success if verdict.ok else st.error)(verdict.message)
        with st.expander("Decoded attestation document"):
            st.json(decode(row.document))
