"""Chain adapters: contracts, local nodes, deployment, market reads, steward relaying, events.

Nothing here knows whether it talks to anvil, the in-process EVM or a public network: every
function takes a `Web3` built by the caller (see `chain.node`).
"""
