// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @notice The pool views and configurator the steward reads and schedules (Aave v3 names).
interface IRiskPool {
    struct InterestRateData {
        uint16 optimalUsageRatio;
        uint32 baseVariableBorrowRate;
        uint32 variableRateSlope1;
        uint32 variableRateSlope2;
    }

    function getReserveConfigurationData(address asset)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, bool, bool, bool, bool, bool);
    function getReserveCaps(address asset) external view returns (uint256 borrowCap, uint256 supplyCap);
    function getInterestRateDataBps(address asset) external view returns (InterestRateData memory);
    function configureReserveAsCollateral(address asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external;
    function setSupplyCap(address asset, uint256 newSupplyCap) external;
    function setBorrowCap(address asset, uint256 newBorrowCap) external;
    function setReserveFactor(address asset, uint256 newReserveFactor) external;
    function setReserveInterestRateData(address asset, bytes calldata rateData) external;
}

/// @title RiskSteward
/// @notice Entry point for parameter updates signed by an attested enclave. Anyone may relay a
///         signed update; the steward checks it and schedules the pool configurator calls in the
///         governance timelock, where the guardian can veto them during the delay.
/// @dev Invariants:
///      - Only an update signed (EIP-712) by a registered, unrevoked, unexpired enclave key whose
///        measurement is approved reaches the timelock; each (enclave, nonce) is used once.
///      - A signed update is valid for at most MAX_UPDATE_VALIDITY_SECONDS after signing.
///      - Each parameter moves at most its bound per update, stays within [floor, ceiling], and
///        moves at most once per cooldown; caps, LTV, LT and LB are never set to zero.
///      - After the update LTV <= LT, LT x LB <= 100%, LB > 100%, and the rate curve is valid.
///      - The timelock salt is the update hash, so relaying the same update twice is a no-op.
///      - Bounds, enclave keys and measurements change only through governance (the timelock).
contract RiskSteward is EIP712 {
    /// @notice Parameter ids as they appear in `ParameterUpdate.params`.
    enum Param {
        Ltv,
        LiquidationThreshold,
        LiquidationBonus,
        SupplyCap,
        BorrowCap,
        ReserveFactor,
        OptimalUsageRatio,
        BaseVariableBorrowRate,
        VariableRateSlope1,
        VariableRateSlope2
    }

    struct ParameterUpdate {
        address enclave;
        uint256 chainId;
        address asset;
        uint8[] params;
        uint256[] values;
        uint256 nonce;
        uint256 deadline;
        bytes32 inputsHash;
        bytes measurement;
    }

    /// @notice How far and how often one parameter may move. `maxChange` is in bps of the
    ///         current value when `isRelative` (caps), else in the parameter's own bps units.
    struct Bound {
        uint32 cooldownSeconds;
        uint32 maxChange;
        bool isRelative;
        uint256 floor;
        uint256 ceiling;
    }

    struct Enclave {
        bytes32 measurementHash;
        bytes32 attestationDigest;
        uint64 registeredAt;
        uint64 expiresAt;
        bool revoked;
    }

    bytes32 public constant PARAMETER_UPDATE_TYPEHASH = keccak256(
        "ParameterUpdate(address enclave,uint256 chainId,address asset,uint8[] params,uint256[] values,uint256 nonce,uint256 deadline,bytes32 inputsHash,bytes measurement)"
    );
    uint256 public constant PARAM_COUNT = 10;
    uint256 public constant BPS_MAX = 10_000;
    uint256 public constant MAX_UPDATE_VALIDITY_SECONDS = 6 hours;
    uint256 public constant MAX_BORROW_RATE_BPS = 100_000;
    uint256 public constant MIN_OPTIMAL_USAGE_RATIO_BPS = 100;
    uint256 public constant MAX_OPTIMAL_USAGE_RATIO_BPS = 9_900;

    TimelockController public immutable timelock;
    IRiskPool public immutable pool;
    address public guardian;
    bool public paused;

    mapping(uint256 => Bound) internal bounds;
    mapping(address => Enclave) public enclaves;
    mapping(bytes32 => bool) public approvedMeasurements;
    mapping(address => mapping(uint256 => bool)) public nonceUsed;
    mapping(address => mapping(uint256 => uint256)) public lastUpdatedAt;
    /// @notice Timelock operation id of each accepted update, by update hash.
    mapping(bytes32 => bytes32) public operationOf;

    error OnlyGovernance(address caller);
    error OnlyGuardianOrGovernance(address caller);
    error StewardPaused();
    error WrongChainId(uint256 expected, uint256 given);
    error UpdateExpired(uint256 deadline, uint256 nowSeconds);
    error DeadlineTooFar(uint256 deadline, uint256 latestAllowed);
    error EnclaveNotRegistered(address enclave);
    error EnclaveRevoked(address enclave);
    error EnclaveRegistrationExpired(address enclave, uint256 expiredAt);
    error MeasurementNotApproved(bytes32 measurementHash);
    error MeasurementMismatch(bytes32 registered, bytes32 given);
    error InvalidSignature(address expected, address recovered);
    error NonceAlreadyUsed(address enclave, uint256 nonce);
    error MalformedUpdate();
    error UnknownAsset(address asset);
    error UnknownParam(uint256 param);
    error DuplicateParam(uint256 param);
    error ParamUnchanged(uint256 param, uint256 value);
    error ZeroValueNotAllowed(uint256 param);
    error OutsideFloorCeiling(uint256 param, uint256 value, uint256 floor, uint256 ceiling);
    error UpdateNotInRange(uint256 param, uint256 current, uint256 proposed, uint256 maxChange);
    error UpdateInCooldown(uint256 param, uint256 readyAt);
    error LtvAboveThreshold(uint256 ltv, uint256 liquidationThreshold);
    error BonusNotAbove100(uint256 liquidationBonus);
    error ThresholdTimesBonusAbove100(uint256 liquidationThreshold, uint256 liquidationBonus);
    error InvalidRateCurve();
    error InvalidBound(uint256 param);

    event UpdateScheduled(
        bytes32 indexed updateHash,
        bytes32 indexed operationId,
        address indexed enclave,
        address asset,
        uint256 nonce,
        bytes32 inputsHash,
        uint8[] params,
        uint256[] values
    );
    event EnclaveRegistered(address indexed enclave, bytes32 measurementHash, bytes32 attestationDigest, uint64 expiresAt);
    event EnclaveRevokedEvent(address indexed enclave);
    event MeasurementApprovalSet(bytes32 indexed measurementHash, bool approved);
    event BoundSet(uint256 indexed param, uint32 cooldownSeconds, uint32 maxChange, bool isRelative, uint256 floor, uint256 ceiling);
    event GuardianSet(address indexed guardian);
    event Paused(address indexed by);
    event Unpaused(address indexed by);

    modifier onlyGovernance() {
        if (msg.sender != address(timelock)) revert OnlyGovernance(msg.sender);
        _;
    }

    /// @param initialBounds One bound per parameter, or empty for the Aave steward defaults.
    constructor(TimelockController timelock_, IRiskPool pool_, address guardian_, Bound[] memory initialBounds)
        EIP712("RiskSteward", "1")
    {
        timelock = timelock_;
        pool = pool_;
        guardian = guardian_;
        Bound[PARAM_COUNT] memory defaults = defaultBounds();
        if (initialBounds.length != 0 && initialBounds.length != PARAM_COUNT) revert MalformedUpdate();
        for (uint256 p = 0; p < PARAM_COUNT; p++) {
            _setBound(p, initialBounds.length == 0 ? defaults[p] : initialBounds[p]);
        }
    }

    /// @notice Aave risk-steward values (aave-v3-risk-stewards): the automated steward's steps
    ///         and cooldowns where it has them, the manual steward's otherwise. Reserve factor
    ///         has no steward value there; ours is +-500 bps per 3 days.
    function defaultBounds() public pure returns (Bound[PARAM_COUNT] memory b) {
        uint256 noCeiling = type(uint256).max;
        b[uint256(Param.Ltv)] = Bound(1 days, 25, false, 1, 9_900);
        b[uint256(Param.LiquidationThreshold)] = Bound(1 days, 25, false, 1, 9_900);
        b[uint256(Param.LiquidationBonus)] = Bound(1 days, 50, false, 10_001, 15_000);
        b[uint256(Param.SupplyCap)] = Bound(3 days, 3_000, true, 1, noCeiling);
        b[uint256(Param.BorrowCap)] = Bound(3 days, 3_000, true, 1, noCeiling);
        b[uint256(Param.ReserveFactor)] = Bound(3 days, 500, false, 0, 9_900);
        b[uint256(Param.OptimalUsageRatio)] = Bound(3 days, 300, false, 100, 9_900);
        b[uint256(Param.BaseVariableBorrowRate)] = Bound(1 days, 50, false, 0, 100_000);
        b[uint256(Param.VariableRateSlope1)] = Bound(1 days, 50, false, 0, 100_000);
        b[uint256(Param.VariableRateSlope2)] = Bound(8 hours, 400, false, 0, 100_000);
    }

    // ------------------------------------------------------------------ relaying

    /// @notice The EIP-712 digest the enclave signs; also the timelock salt.
    function hashUpdate(ParameterUpdate calldata u) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PARAMETER_UPDATE_TYPEHASH,
                    u.enclave,
                    u.chainId,
                    u.asset,
                    keccak256(abi.encodePacked(u.params)),
                    keccak256(abi.encodePacked(u.values)),
                    u.nonce,
                    u.deadline,
                    u.inputsHash,
                    keccak256(u.measurement)
                )
            )
        );
    }

    /// @notice Checks a signed update and schedules it in the timelock. Anyone may relay.
    ///         Relaying an update already accepted returns its operation id and changes nothing.
    function submit(ParameterUpdate calldata u, bytes calldata signature) external returns (bytes32 operationId) {
        bytes32 updateHash = hashUpdate(u);
        operationId = operationOf[updateHash];
        if (operationId != bytes32(0)) return operationId;
        if (paused) revert StewardPaused();
        if (u.chainId != block.chainid) revert WrongChainId(block.chainid, u.chainId);
        if (block.timestamp > u.deadline) revert UpdateExpired(u.deadline, block.timestamp);
        if (u.deadline > block.timestamp + MAX_UPDATE_VALIDITY_SECONDS) {
            revert DeadlineTooFar(u.deadline, block.timestamp + MAX_UPDATE_VALIDITY_SECONDS);
        }
        _checkEnclave(u);
        (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(updateHash, signature);
        if (recoverError != ECDSA.RecoverError.NoError || recovered != u.enclave) {
            revert InvalidSignature(u.enclave, recovered);
        }
        if (nonceUsed[u.enclave][u.nonce]) revert NonceAlreadyUsed(u.enclave, u.nonce);
        nonceUsed[u.enclave][u.nonce] = true;

        (address[] memory targets, bytes[] memory payloads) = _checkAndBuildCalls(u);
        uint256[] memory amounts = new uint256[](targets.length);
        operationId = timelock.hashOperationBatch(targets, amounts, payloads, bytes32(0), updateHash);
        operationOf[updateHash] = operationId;
        timelock.scheduleBatch(targets, amounts, payloads, bytes32(0), updateHash, timelock.getMinDelay());
        emit UpdateScheduled(updateHash, operationId, u.enclave, u.asset, u.nonce, u.inputsHash, u.params, u.values);
    }

    /// @notice The current value of every parameter of `asset`, indexed by `Param`.
    function currentValues(address asset) public view returns (uint256[PARAM_COUNT] memory values) {
        (, uint256 ltv, uint256 threshold, uint256 bonus, uint256 reserveFactor,,,, bool isActive,) =
            pool.getReserveConfigurationData(asset);
        if (!isActive) revert UnknownAsset(asset);
        (uint256 borrowCap, uint256 supplyCap) = pool.getReserveCaps(asset);
        IRiskPool.InterestRateData memory rates = pool.getInterestRateDataBps(asset);
        values[uint256(Param.Ltv)] = ltv;
        values[uint256(Param.LiquidationThreshold)] = threshold;
        values[uint256(Param.LiquidationBonus)] = bonus;
        values[uint256(Param.SupplyCap)] = supplyCap;
        values[uint256(Param.BorrowCap)] = borrowCap;
        values[uint256(Param.ReserveFactor)] = reserveFactor;
        values[uint256(Param.OptimalUsageRatio)] = rates.optimalUsageRatio;
        values[uint256(Param.BaseVariableBorrowRate)] = rates.baseVariableBorrowRate;
        values[uint256(Param.VariableRateSlope1)] = rates.variableRateSlope1;
        values[uint256(Param.VariableRateSlope2)] = rates.variableRateSlope2;
    }

    function getBound(uint256 param) external view returns (Bound memory) {
        return bounds[param];
    }

    // ------------------------------------------------------------------ governance and guardian

    /// @notice Registers an enclave signing key bound to `measurement` by the attestation
    ///         document whose digest is recorded. `expiresAt` 0 means no expiry.
    function registerEnclave(address enclave, bytes calldata measurement, bytes32 attestationDigest, uint64 expiresAt)
        external
        onlyGovernance
    {
        bytes32 measurementHash = keccak256(measurement);
        enclaves[enclave] = Enclave(measurementHash, attestationDigest, uint64(block.timestamp), expiresAt, false);
        emit EnclaveRegistered(enclave, measurementHash, attestationDigest, expiresAt);
    }

    function revokeEnclave(address enclave) external onlyGovernance {
        enclaves[enclave].revoked = true;
        emit EnclaveRevokedEvent(enclave);
    }

    function setMeasurementApproval(bytes calldata measurement, bool approved) external onlyGovernance {
        bytes32 measurementHash = keccak256(measurement);
        approvedMeasurements[measurementHash] = approved;
        emit MeasurementApprovalSet(measurementHash, approved);
    }

    function setBound(uint256 param, Bound calldata bound) external onlyGovernance {
        _setBound(param, bound);
    }

    function setGuardian(address newGuardian) external onlyGovernance {
        guardian = newGuardian;
        emit GuardianSet(newGuardian);
    }

    /// @notice Stops all relaying; the guardian's kill switch.
    function pause() external {
        if (msg.sender != guardian && msg.sender != address(timelock)) revert OnlyGuardianOrGovernance(msg.sender);
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyGovernance {
        paused = false;
        emit Unpaused(msg.sender);
    }

    // ------------------------------------------------------------------ internals

    function _checkEnclave(ParameterUpdate calldata u) internal view {
        Enclave storage e = enclaves[u.enclave];
        if (e.registeredAt == 0) revert EnclaveNotRegistered(u.enclave);
        if (e.revoked) revert EnclaveRevoked(u.enclave);
        if (e.expiresAt != 0 && block.timestamp > e.expiresAt) revert EnclaveRegistrationExpired(u.enclave, e.expiresAt);
        bytes32 measurementHash = keccak256(u.measurement);
        if (!approvedMeasurements[measurementHash]) revert MeasurementNotApproved(measurementHash);
        if (measurementHash != e.measurementHash) revert MeasurementMismatch(e.measurementHash, measurementHash);
    }

    function _checkAndBuildCalls(ParameterUpdate calldata u)
        internal
        returns (address[] memory targets, bytes[] memory payloads)
    {
        uint256 count = u.params.length;
        if (count == 0 || count != u.values.length) revert MalformedUpdate();
        uint256[PARAM_COUNT] memory next = currentValues(u.asset);
        uint256 changed;
        for (uint256 i = 0; i < count; i++) {
            uint256 param = u.params[i];
            if (param >= PARAM_COUNT) revert UnknownParam(param);
            if (changed & (1 << param) != 0) revert DuplicateParam(param);
            changed |= 1 << param;
            _checkStep(param, next[param], u.values[i]);
            uint256 readyAt = lastUpdatedAt[u.asset][param] + bounds[param].cooldownSeconds;
            if (lastUpdatedAt[u.asset][param] != 0 && block.timestamp < readyAt) revert UpdateInCooldown(param, readyAt);
            lastUpdatedAt[u.asset][param] = block.timestamp;
            next[param] = u.values[i];
        }
        _checkConsistency(next);
        return _buildCalls(u.asset, next, changed);
    }

    /// @dev The bounds check of Aave's risk stewards, integer for integer.
    function _checkStep(uint256 param, uint256 current, uint256 proposed) internal view {
        Bound storage b = bounds[param];
        if (current == proposed) revert ParamUnchanged(param, current);
        if (proposed == 0 && param <= uint256(Param.BorrowCap)) revert ZeroValueNotAllowed(param);
        if (proposed < b.floor || proposed > b.ceiling) revert OutsideFloorCeiling(param, proposed, b.floor, b.ceiling);
        uint256 difference = current > proposed ? current - proposed : proposed - current;
        uint256 maxDifference = b.isRelative ? uint256(b.maxChange) * current / BPS_MAX : b.maxChange;
        if (difference > maxDifference) revert UpdateNotInRange(param, current, proposed, maxDifference);
    }

    function _checkConsistency(uint256[PARAM_COUNT] memory v) internal pure {
        uint256 ltv = v[uint256(Param.Ltv)];
        uint256 threshold = v[uint256(Param.LiquidationThreshold)];
        uint256 bonus = v[uint256(Param.LiquidationBonus)];
        if (ltv > threshold) revert LtvAboveThreshold(ltv, threshold);
        if (threshold != 0 && bonus <= BPS_MAX) revert BonusNotAbove100(bonus);
        if (threshold * bonus > BPS_MAX * BPS_MAX) revert ThresholdTimesBonusAbove100(threshold, bonus);
        uint256 optimal = v[uint256(Param.OptimalUsageRatio)];
        uint256 slope1 = v[uint256(Param.VariableRateSlope1)];
        uint256 slope2 = v[uint256(Param.VariableRateSlope2)];
        if (
            optimal < MIN_OPTIMAL_USAGE_RATIO_BPS || optimal > MAX_OPTIMAL_USAGE_RATIO_BPS || slope1 > slope2
                || v[uint256(Param.BaseVariableBorrowRate)] + slope1 + slope2 > MAX_BORROW_RATE_BPS
        ) revert InvalidRateCurve();
    }

    function _buildCalls(address asset, uint256[PARAM_COUNT] memory v, uint256 changed)
        internal
        view
        returns (address[] memory targets, bytes[] memory payloads)
    {
        bytes[5] memory calls;
        uint256 count;
        uint256 collateralMask = (1 << uint256(Param.Ltv)) | (1 << uint256(Param.LiquidationThreshold))
            | (1 << uint256(Param.LiquidationBonus));
        uint256 ratesMask = (1 << uint256(Param.OptimalUsageRatio)) | (1 << uint256(Param.BaseVariableBorrowRate))
            | (1 << uint256(Param.VariableRateSlope1)) | (1 << uint256(Param.VariableRateSlope2));
        if (changed & collateralMask != 0) {
            calls[count++] = abi.encodeCall(
                IRiskPool.configureReserveAsCollateral,
                (asset, v[uint256(Param.Ltv)], v[uint256(Param.LiquidationThreshold)], v[uint256(Param.LiquidationBonus)])
            );
        }
        if (changed & (1 << uint256(Param.SupplyCap)) != 0) {
            calls[count++] = abi.encodeCall(IRiskPool.setSupplyCap, (asset, v[uint256(Param.SupplyCap)]));
        }
        if (changed & (1 << uint256(Param.BorrowCap)) != 0) {
            calls[count++] = abi.encodeCall(IRiskPool.setBorrowCap, (asset, v[uint256(Param.BorrowCap)]));
        }
        if (changed & (1 << uint256(Param.ReserveFactor)) != 0) {
            calls[count++] = abi.encodeCall(IRiskPool.setReserveFactor, (asset, v[uint256(Param.ReserveFactor)]));
        }
        if (changed & ratesMask != 0) {
            IRiskPool.InterestRateData memory rates = IRiskPool.InterestRateData(
                uint16(v[uint256(Param.OptimalUsageRatio)]),
                uint32(v[uint256(Param.BaseVariableBorrowRate)]),
                uint32(v[uint256(Param.VariableRateSlope1)]),
                uint32(v[uint256(Param.VariableRateSlope2)])
            );
            calls[count++] = abi.encodeCall(IRiskPool.setReserveInterestRateData, (asset, abi.encode(rates)));
        }
        targets = new address[](count);
        payloads = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            targets[i] = address(pool);
            payloads[i] = calls[i];
        }
    }

    function _setBound(uint256 param, Bound memory bound) internal {
        if (param >= PARAM_COUNT || bound.cooldownSeconds == 0 || bound.maxChange == 0 || bound.floor > bound.ceiling) {
            revert InvalidBound(param);
        }
        bounds[param] = bound;
        emit BoundSet(param, bound.cooldownSeconds, bound.maxChange, bound.isRelative, bound.floor, bound.ceiling);
    }
}
