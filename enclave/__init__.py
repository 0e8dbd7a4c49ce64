"""The enclave: a measured image, a key born inside, Nitro-format attestation, signed decisions."""
