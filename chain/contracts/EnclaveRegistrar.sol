// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @notice The one steward function the registrar schedules.
interface IEnclaveRegistry {
    function registerEnclave(address enclave, bytes calldata measurement, bytes32 attestationDigest, uint64 expiresAt)
        external;
}

/// @title EnclaveRegistrar
/// @notice A timelock proposer that can schedule exactly one kind of call:
///         `steward.registerEnclave(enclave, measurement, attestationDigest, expiresAt)`. The
///         operator governance names proposes a freshly attested enclave key; the registration
///         still waits the timelock delay, anyone may execute it afterwards, and the guardian can
///         cancel it in the timelock before then.
/// @dev Invariants:
///      - Every operation this contract schedules is a one-call batch whose target is `steward`
///        and whose payload starts with registerEnclave's selector; it has no other entry point
///        into the timelock.
///      - Scheduling uses the timelock's own minimum delay, so a registration is never faster
///        than any other governance action.
///      - Only `operator` may schedule; only governance (the timelock) changes the operator.
contract EnclaveRegistrar {
    TimelockController public immutable timelock;
    IEnclaveRegistry public immutable steward;
    /// @notice The account allowed to propose registrations (e.g. the agent's operator key).
    address public operator;

    event OperatorSet(address indexed operator);
    event RegistrationScheduled(
        bytes32 indexed operationId, address indexed enclave, bytes32 measurementHash, bytes32 attestationDigest, uint64 expiresAt
    );

    error OnlyGovernance(address caller);
    error OnlyOperator(address caller);

    /// @param timelock_ The governance timelock (this contract must hold its PROPOSER_ROLE).
    /// @param steward_ The RiskSteward whose enclave keys are registered.
    /// @param operator_ The first operator (governance may replace it).
    constructor(TimelockController timelock_, IEnclaveRegistry steward_, address operator_) {
        timelock = timelock_;
        steward = steward_;
        operator = operator_;
        emit OperatorSet(operator_);
    }

    /// @notice Names the account that may propose registrations; governance only.
    function setOperator(address newOperator) external {
        if (msg.sender != address(timelock)) revert OnlyGovernance(msg.sender);
        operator = newOperator;
        emit OperatorSet(newOperator);
    }

    /// @notice Schedules the registration of an attested enclave key in the timelock. The same
    ///         registration proposed again returns the existing operation.
    /// @param attestationDocument The attestation document itself, published in this call's
    ///        calldata (not stored) so that anyone can fetch it, check that its digest is
    ///        `attestationDigest` and verify it, with nothing but the chain.
    /// @return operationId The timelock operation (salt = keccak256 of the call).
    function scheduleRegistration(
        address enclave,
        bytes calldata measurement,
        bytes32 attestationDigest,
        uint64 expiresAt,
        bytes calldata attestationDocument
    ) external returns (bytes32 operationId) {
        attestationDocument; // published, not interpreted: verifiers read it from the calldata
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        bytes memory payload =
            abi.encodeCall(IEnclaveRegistry.registerEnclave, (enclave, measurement, attestationDigest, expiresAt));
        bytes32 salt = keccak256(payload);
        address[] memory targets = new address[](1);
        targets[0] = address(steward);
        uint256[] memory amounts = new uint256[](1);
        bytes[] memory payloads = new bytes[](1);
        payloads[0] = payload;
        operationId = timelock.hashOperationBatch(targets, amounts, payloads, bytes32(0), salt);
        if (timelock.isOperation(operationId)) return operationId;
        timelock.scheduleBatch(targets, amounts, payloads, bytes32(0), salt, timelock.getMinDelay());
        emit RegistrationScheduled(operationId, enclave, keccak256(measurement), attestationDigest, expiresAt);
    }
}
