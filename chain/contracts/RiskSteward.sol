// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IDefaultReserveInterestRateStrategy, RateStrategyFactory} from "./RateStrategyFactory.sol";

/// @notice The two addresses of Aave v3's PoolAddressesProvider the steward needs.
interface IPoolAddressesProvider {
    function getPool() external view returns (address);
    function getPoolConfigurator() external view returns (address);
}

/// @notice Aave v3.0 Pool reads (DataTypes.ReserveData, field for field).
interface IAavePool {
    struct ReserveData {
        uint256 configuration;
        uint128 liquidityIndex;
        uint128 currentLiquidityRate;
        uint128 variableBorrowIndex;
        uint128 currentVariableBorrowRate;
        uint128 currentStableBorrowRate;
        uint40 lastUpdateTimestamp;
        uint16 id;
        address aTokenAddress;
        address stableDebtTokenAddress;
        address variableDebtTokenAddress;
        address interestRateStrategyAddress;
        uint128 accruedToTreasury;
        uint128 unbacked;
        uint128 isolationModeTotalDebt;
    }

    function getConfiguration(address asset) external view returns (uint256);
    function getReserveData(address asset) external view returns (ReserveData memory);
}

/// @notice The PoolConfigurator calls open to RISK_ADMIN that the steward makes.
interface IPoolConfigurator {
    function configureReserveAsCollateral(address asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external;
    function setSupplyCap(address asset, uint256 newSupplyCap) external;
    function setBorrowCap(address asset, uint256 newBorrowCap) external;
    function setReserveFactor(address asset, uint256 newReserveFactor) external;
    function setReserveInterestRateStrategyAddress(address asset, address newRateStrategyAddress) external;
}

/// @title RiskSteward
/// @notice Entry point for reserve-parameter updates signed by an attested enclave on an Aave v3
///         market. Anyone may relay a signed update. An update that only tightens (lowers LTV,
///         LT, the supply cap or the borrow cap) is applied at once through the PoolConfigurator
///         (the steward holds RISK_ADMIN); any other update is scheduled in the governance
///         timelock and applied by `applyUpdate`, which only the timelock may call, after the delay and
///         within the execution window, unless the guardian vetoes it first.
/// @dev Invariants:
///      - Only an update signed (EIP-712) by a registered, unrevoked, unexpired enclave key whose
///        measurement is approved is accepted; nonces come from a per-enclave counter and each
///        value is accepted once, in order.
///      - An update is anchored: it names a block at most 256 blocks old whose hash matches, its
///        anchor time is not in the future, and it expires at most 6 h after the anchor.
///      - An update is accepted only if the canonical bytes of its inputs were published here.
///      - Each parameter moves at most its bound from the value in force, stays within
///        [floor, ceiling] and Aave's own limits, and moves at most once per cooldown counted
///        from its last execution; caps, LTV, LT and LB never become zero.
///      - At most one scheduled (not executed, not vetoed, not expired) operation per
///        (asset, parameter); an operation executes only within the execution window after it
///        becomes ready, and every check is repeated then against the values in force.
///      - A fast-path tightening supersedes the scheduled operation on each parameter it writes:
///        that operation can no longer execute (a loosening decided on calmer data never lands
///        after the tightening that answered a stress).
///      - An update writes only the fields it changes (read-modify-write at execution); after it
///        LTV <= LT, LB > 100%, LT x LB <= 100%, and the rate curve is valid.
///      - A slow update is one timelock operation, `schedule(this, 0, applyUpdate(...), 0, salt =
///        update hash)`, so relaying an update already scheduled changes nothing.
///      - While paused nothing is applied or scheduled; the guardian can always veto and pause.
///      - Bounds, the execution window, enclave keys, measurements and the guardian change only
///        through governance (the timelock).
contract RiskSteward is EIP712 {
    bytes32 public constant PARAMETER_UPDATE_TYPEHASH = keccak256(
        "ParameterUpdate(address enclave,uint256 chainId,address asset,uint8[] params,uint256[] values,uint256 nonce,uint256 anchorBlock,bytes32 anchorBlockHash,uint256 anchorTimestamp,uint256 deadline,bytes32 inputsHash,bytes measurement)"
    );
    uint256 public constant PARAM_COUNT = 10;
    uint256 public constant BPS_MAX = 10_000;
    uint256 public constant RAY_PER_BPS = 1e23;
    uint256 public constant MAX_UPDATE_VALIDITY_SECONDS = 6 hours;
    uint256 public constant MAX_ANCHOR_AGE_BLOCKS = 256;
    uint256 public constant MAX_BORROW_RATE_BPS = 100_000;
    uint256 public constant MIN_OPTIMAL_USAGE_RATIO_BPS = 100;
    uint256 public constant MAX_OPTIMAL_USAGE_RATIO_BPS = 9_900;
    /// @notice Aave ReserveConfiguration limits: 16-bit LTV/LT/LB, 36-bit caps, RF <= 100%.
    uint256 public constant MAX_VALID_LTV_LT_LB = 65_535;
    uint256 public constant MAX_VALID_CAP_TOKENS = 68_719_476_735;
    uint256 public constant MAX_VALID_RESERVE_FACTOR_BPS = 10_000;
    /// @notice Parameters never set to zero: LTV, LT, LB, supply cap, borrow cap.
    uint256 public constant NON_ZERO_PARAMS_MASK = 0x1F;
    /// @notice Parameters whose decrease only reduces risk: LTV, LT, supply cap, borrow cap.
    uint256 public constant TIGHTENING_PARAMS_MASK = 0x1B;
    uint256 internal constant COLLATERAL_MASK = 0x07;
    uint256 internal constant RATES_MASK = 0x3C0;
    uint256 internal constant ACTIVE_BIT = 1 << 56;

    /// @notice Parameter ids as they appear in `ParameterUpdate.params` (strategies.params.Param).
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

    /// @notice What the enclave signs. `anchorBlock`/`anchorBlockHash`/`anchorTimestamp` name the
    ///         block its inputs were read at; `inputsHash` is keccak256 of the published inputs.
    struct ParameterUpdate {
        address enclave;
        uint256 chainId;
        address asset;
        uint8[] params;
        uint256[] values;
        uint256 nonce;
        uint256 anchorBlock;
        bytes32 anchorBlockHash;
        uint256 anchorTimestamp;
        uint256 deadline;
        bytes32 inputsHash;
        bytes measurement;
    }

    /// @notice How far and how often one parameter may move (one storage slot). `maxChange` is in
    ///         bps of the current value when `isRelative` (caps), else in the parameter's unit.
    struct Bound {
        uint32 cooldownSeconds;
        uint32 maxChange;
        bool isRelative;
        uint64 floor;
        uint64 ceiling;
    }

    /// @notice One (asset, parameter) in one slot: when it last changed through the steward,
    ///         when its scheduled operation becomes ready (0: none) and which operation that is
    ///         (the low 64 bits of its update hash), so a superseded operation cannot execute.
    struct ParamState {
        uint40 lastExecutedAt;
        uint40 pendingReadyAt;
        uint64 pendingTag;
    }

    /// @notice A registered enclave key; the last slot packs the times, revocation and the
    ///         nonce counter (the next nonce this key must sign).
    struct Enclave {
        bytes32 measurementHash;
        bytes32 attestationDigest;
        uint40 registeredAt;
        uint40 expiresAt;
        bool revoked;
        uint64 nonce;
    }

    /// @notice Guardian, pause flag and execution window, read together in one slot.
    struct Settings {
        address guardian;
        bool paused;
        uint40 executionWindowSeconds;
    }

    /// @dev The reserve as the steward sees it: Aave's configuration word, every parameter in
    ///      force (post-update after the checks), and the rate strategy when rates are touched.
    struct Reserve {
        uint256[PARAM_COUNT] values;
        address rateStrategy;
    }

    TimelockController public immutable timelock;
    IPoolAddressesProvider public immutable addressesProvider;
    IAavePool public immutable pool;
    IPoolConfigurator public immutable configurator;
    RateStrategyFactory public immutable rateStrategyFactory;

    Settings internal _settings;
    Bound[PARAM_COUNT] internal _bounds;
    mapping(address asset => ParamState[PARAM_COUNT]) internal _paramStates;
    /// @notice Registered enclave keys.
    mapping(address enclave => Enclave) public enclaves;
    /// @notice Measurements (keccak256 of the PCR0-style digest) governance approved.
    mapping(bytes32 measurementHash => bool) public approvedMeasurements;
    /// @notice Block in which each inputs hash was first published (0: never).
    mapping(bytes32 inputsHash => uint256) public inputsPublishedAtBlock;

    error OnlyGovernance(address caller);
    error OnlyTimelock(address caller);
    error OnlyGuardian(address caller);
    error OnlyGuardianOrGovernance(address caller);
    error StewardPaused();
    error WrongChainId(uint256 expected, uint256 given);
    error AnchorBlockUnavailable(uint256 anchorBlock);
    error AnchorHashMismatch(bytes32 expected, bytes32 given);
    error AnchorInFuture(uint256 anchorTimestamp);
    error UpdateExpired(uint256 deadline, uint256 nowSeconds);
    error DeadlineTooFar(uint256 deadline, uint256 latestAllowed);
    error EnclaveNotRegistered(address enclave);
    error EnclaveRevoked(address enclave);
    error EnclaveRegistrationExpired(address enclave, uint256 expiredAt);
    error MeasurementNotApproved(bytes32 measurementHash);
    error MeasurementMismatch(bytes32 registered, bytes32 given);
    error InvalidSignature(address expected, address recovered);
    error NonceMismatch(address enclave, uint256 expected, uint256 given);
    error InputsNotPublished(bytes32 inputsHash);
    error MalformedUpdate();
    error UnknownAsset(address asset);
    error UnknownParam(uint256 param);
    error DuplicateParam(uint256 param);
    error ParamUnchanged(uint256 param, uint256 value);
    error ZeroValueNotAllowed(uint256 param);
    error OutsideFloorCeiling(uint256 param, uint256 value, uint256 floor, uint256 ceiling);
    error UpdateNotInRange(uint256 param, uint256 current, uint256 proposed, uint256 maxChange);
    error UpdateInCooldown(uint256 param, uint256 readyAt);
    error ParamPending(uint256 param, uint256 pendingReadyAt);
    error AboveProtocolLimit(uint256 param, uint256 value, uint256 limit);
    error LtvAboveThreshold(uint256 ltv, uint256 liquidationThreshold);
    error BonusNotAbove100(uint256 liquidationBonus);
    error ThresholdTimesBonusAbove100(uint256 liquidationThreshold, uint256 liquidationBonus);
    error InvalidRateCurve();
    error UnknownOperation(bytes32 operationId);
    error OperationExpired(uint256 expiredAt);
    error OperationSuperseded(uint256 param);
    error InvalidBound(uint256 param);
    error InvalidExecutionWindow(uint256 seconds_);
    error InvalidGuardian(address guardian);
    error FactoryProviderMismatch(address factoryProvider, address provider);

    /// @notice Canonical decision inputs were published; the bytes are this call's calldata.
    event InputsPublished(bytes32 indexed inputsHash);
    /// @notice A tightening-only update was applied at once (the fast path).
    event UpdateApplied(
        bytes32 indexed updateHash,
        address indexed enclave,
        address indexed asset,
        uint256 nonce,
        bytes32 inputsHash,
        uint8[] params,
        uint256[] values
    );
    /// @notice An update was scheduled in the timelock; its `applyUpdate` call (asset, params, values)
    ///         is in the timelock's CallScheduled event of the same transaction.
    event UpdateScheduled(
        bytes32 indexed updateHash,
        bytes32 indexed operationId,
        address indexed enclave,
        address asset,
        uint256 nonce,
        bytes32 inputsHash,
        uint256 readyAt
    );
    /// @notice A fast-path update superseded the scheduled operation pending on `param`.
    event PendingSuperseded(address indexed asset, uint256 param, uint256 pendingReadyAt);
    /// @notice A scheduled update was applied by the timelock.
    event UpdateExecuted(bytes32 indexed updateHash, bytes32 indexed operationId, address indexed asset);
    /// @notice The guardian vetoed a scheduled update through the steward; its params are free.
    event UpdateVetoed(bytes32 indexed updateHash, bytes32 indexed operationId, address indexed asset);
    event EnclaveRegistered(address indexed enclave, bytes32 measurementHash, bytes32 attestationDigest, uint64 expiresAt);
    event EnclaveRevokedEvent(address indexed enclave);
    event MeasurementApprovalSet(bytes32 indexed measurementHash, bool approved);
    event BoundSet(uint256 indexed param, uint32 cooldownSeconds, uint32 maxChange, bool isRelative, uint64 floor, uint64 ceiling);
    event ExecutionWindowSet(uint40 executionWindowSeconds);
    event GuardianSet(address indexed guardian);
    event Paused(address indexed by);
    event Unpaused(address indexed by);

    modifier onlyGovernance() {
        if (msg.sender != address(timelock)) revert OnlyGovernance(msg.sender);
        _;
    }

    /// @param timelock_ OpenZeppelin TimelockController: governance, and where slow updates wait.
    /// @param provider Aave v3 PoolAddressesProvider of the market governed.
    /// @param factory Deploys (or finds) the rate strategy of a new curve.
    /// @param guardian_ May pause and veto.
    /// @param initialBounds One bound per parameter, in `Param` order.
    /// @param executionWindowSeconds How long after it becomes ready an operation may execute.
    /// @param initialMeasurements Enclave measurements approved from the start.
    constructor(
        TimelockController timelock_,
        IPoolAddressesProvider provider,
        RateStrategyFactory factory,
        address guardian_,
        Bound[PARAM_COUNT] memory initialBounds,
        uint40 executionWindowSeconds,
        bytes[] memory initialMeasurements
    ) EIP712("RiskSteward", "1") {
        if (factory.addressesProvider() != address(provider)) {
            revert FactoryProviderMismatch(factory.addressesProvider(), address(provider));
        }
        timelock = timelock_;
        addressesProvider = provider;
        pool = IAavePool(provider.getPool());
        configurator = IPoolConfigurator(provider.getPoolConfigurator());
        rateStrategyFactory = factory;
        _setGuardian(guardian_);
        _setExecutionWindow(executionWindowSeconds);
        for (uint256 p = 0; p < PARAM_COUNT; p++) {
            _setBound(p, initialBounds[p]);
        }
        for (uint256 i = 0; i < initialMeasurements.length; i++) {
            _setMeasurementApproval(initialMeasurements[i], true);
        }
    }

    // ------------------------------------------------------------------ relaying

    /// @notice Records the canonical bytes of a decision's inputs; anyone may publish. The bytes
    ///         stay in this transaction's calldata, where `verify --rpc` fetches them.
    function publishInputs(bytes calldata inputs) external returns (bytes32 inputsHash) {
        inputsHash = keccak256(inputs);
        if (inputsPublishedAtBlock[inputsHash] == 0) {
            inputsPublishedAtBlock[inputsHash] = block.number;
            emit InputsPublished(inputsHash);
        }
    }

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
                    u.anchorBlock,
                    u.anchorBlockHash,
                    u.anchorTimestamp,
                    u.deadline,
                    u.inputsHash,
                    keccak256(u.measurement)
                )
            )
        );
    }

    /// @notice Checks a signed update; applies it at once when it only tightens, else schedules it
    ///         in the timelock. Anyone may relay. Relaying an update already scheduled returns its
    ///         operation id and changes nothing.
    /// @return operationId The timelock operation (0 when applied on the fast path).
    function submit(ParameterUpdate calldata u, bytes calldata signature) external returns (bytes32 operationId) {
        Settings memory settings = _settings;
        // 1. pause, chain
        if (settings.paused) revert StewardPaused();
        if (u.chainId != block.chainid) revert WrongChainId(block.chainid, u.chainId);
        // 2. anchor
        if (u.anchorBlock >= block.number || block.number - u.anchorBlock > MAX_ANCHOR_AGE_BLOCKS) {
            revert AnchorBlockUnavailable(u.anchorBlock);
        }
        bytes32 anchorHash = blockhash(u.anchorBlock);
        if (anchorHash != u.anchorBlockHash) revert AnchorHashMismatch(anchorHash, u.anchorBlockHash);
        if (u.anchorTimestamp > block.timestamp) revert AnchorInFuture(u.anchorTimestamp);
        // 3. deadline
        if (block.timestamp > u.deadline) revert UpdateExpired(u.deadline, block.timestamp);
        if (u.deadline > u.anchorTimestamp + MAX_UPDATE_VALIDITY_SECONDS) {
            revert DeadlineTooFar(u.deadline, u.anchorTimestamp + MAX_UPDATE_VALIDITY_SECONDS);
        }
        // 4. enclave
        Enclave storage enclave = enclaves[u.enclave];
        uint64 nonce = _checkEnclave(enclave, u);
        // 5. signature
        bytes32 updateHash = hashUpdate(u);
        (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(updateHash, signature);
        if (recoverError != ECDSA.RecoverError.NoError || recovered != u.enclave) {
            revert InvalidSignature(u.enclave, recovered);
        }
        // 6. nonce (a relay of an update already scheduled is answered with its operation)
        if (u.nonce != nonce) {
            operationId = _operationId(_applyCall(u.asset, u.params, u.values, updateHash), updateHash);
            if (timelock.isOperation(operationId)) return operationId;
            revert NonceMismatch(u.enclave, nonce, u.nonce);
        }
        enclave.nonce = nonce + 1;
        // 7. published inputs
        if (inputsPublishedAtBlock[u.inputsHash] == 0) revert InputsNotPublished(u.inputsHash);
        // 8-9. changes against the values in force, then the post-update set
        (Reserve memory reserve, bool fast) =
            _checkChanges(u.asset, u.params, u.values, settings.executionWindowSeconds, false);
        // 10. fast path, or schedule
        ParamState[PARAM_COUNT] storage states = _paramStates[u.asset];
        if (fast) {
            _write(u.asset, u.params, reserve);
            for (uint256 i = 0; i < u.params.length; i++) {
                ParamState storage state = states[u.params[i]];
                state.lastExecutedAt = uint40(block.timestamp);
                if (state.pendingReadyAt != 0) {
                    emit PendingSuperseded(u.asset, u.params[i], state.pendingReadyAt);
                    state.pendingReadyAt = 0;
                    state.pendingTag = 0;
                }
            }
            emit UpdateApplied(updateHash, u.enclave, u.asset, u.nonce, u.inputsHash, u.params, u.values);
            return bytes32(0);
        }
        bytes memory payload = _applyCall(u.asset, u.params, u.values, updateHash);
        operationId = _operationId(payload, updateHash);
        uint256 delay = timelock.getMinDelay();
        _schedule(payload, updateHash, delay);
        uint40 readyAt = uint40(block.timestamp + delay);
        uint64 tag = uint64(uint256(updateHash));
        for (uint256 i = 0; i < u.params.length; i++) {
            ParamState storage state = states[u.params[i]];
            state.pendingReadyAt = readyAt;
            state.pendingTag = tag;
        }
        emit UpdateScheduled(updateHash, operationId, u.enclave, u.asset, u.nonce, u.inputsHash, readyAt);
    }

    /// @notice Applies a scheduled update: only the timelock calls this, when executing the
    ///         operation the steward scheduled. Every check is repeated against the values in
    ///         force now, and only the changed fields are written.
    function applyUpdate(address asset, uint8[] calldata params, uint256[] calldata values, bytes32 updateHash) external {
        if (msg.sender != address(timelock)) revert OnlyTimelock(msg.sender);
        Settings memory settings = _settings;
        if (settings.paused) revert StewardPaused();
        bytes32 operationId = _operationId(msg.data, updateHash);
        uint256 readyAt = timelock.getTimestamp(operationId);
        if (readyAt <= 1) revert UnknownOperation(operationId);
        uint256 expiresAt = readyAt + settings.executionWindowSeconds;
        if (block.timestamp > expiresAt) revert OperationExpired(expiresAt);
        ParamState[PARAM_COUNT] storage states = _paramStates[asset];
        uint64 tag = uint64(uint256(updateHash));
        for (uint256 i = 0; i < params.length; i++) {
            if (params[i] < PARAM_COUNT && states[params[i]].pendingTag != tag) revert OperationSuperseded(params[i]);
        }
        (Reserve memory reserve,) = _checkChanges(asset, params, values, settings.executionWindowSeconds, true);
        _write(asset, params, reserve);
        for (uint256 i = 0; i < params.length; i++) {
            ParamState storage state = states[params[i]];
            state.lastExecutedAt = uint40(block.timestamp);
            state.pendingReadyAt = 0;
            state.pendingTag = 0;
        }
        emit UpdateExecuted(updateHash, operationId, asset);
    }

    /// @notice The guardian's veto of a scheduled update: cancels it in the timelock (the steward
    ///         holds CANCELLER_ROLE) and frees its parameters for the next update.
    function veto(address asset, uint8[] calldata params, uint256[] calldata values, bytes32 updateHash) external {
        if (msg.sender != _settings.guardian) revert OnlyGuardian(msg.sender);
        bytes32 operationId = _operationId(_applyCall(asset, params, values, updateHash), updateHash);
        uint256 readyAt = timelock.getTimestamp(operationId);
        timelock.cancel(operationId);
        ParamState[PARAM_COUNT] storage states = _paramStates[asset];
        for (uint256 i = 0; i < params.length; i++) {
            if (params[i] < PARAM_COUNT && states[params[i]].pendingTag == uint64(uint256(updateHash))) {
                states[params[i]].pendingReadyAt = 0;
                states[params[i]].pendingTag = 0;
            }
        }
        emit UpdateVetoed(updateHash, operationId, asset);
    }

    // ------------------------------------------------------------------ views

    /// @notice The timelock operation id of the steward's `applyUpdate` call for an update.
    function operationIdOf(address asset, uint8[] calldata params, uint256[] calldata values, bytes32 updateHash)
        external
        view
        returns (bytes32)
    {
        return _operationId(_applyCall(asset, params, values, updateHash), updateHash);
    }

    /// @notice Every parameter of `asset` in force, indexed by `Param` (rates in bps, floored).
    function currentValues(address asset) external view returns (uint256[PARAM_COUNT] memory) {
        return _readReserve(asset, true).values;
    }

    function getBound(uint256 param) external view returns (Bound memory) {
        return _bounds[param];
    }

    function getBounds() external view returns (Bound[PARAM_COUNT] memory) {
        return _bounds;
    }

    function paramState(address asset, uint256 param) external view returns (ParamState memory) {
        return _paramStates[asset][param];
    }

    /// @notice The next nonce `enclave` must sign.
    function nonces(address enclave) external view returns (uint256) {
        return enclaves[enclave].nonce;
    }

    function guardian() external view returns (address) {
        return _settings.guardian;
    }

    function paused() external view returns (bool) {
        return _settings.paused;
    }

    function executionWindowSeconds() external view returns (uint256) {
        return _settings.executionWindowSeconds;
    }

    // ------------------------------------------------------------------ governance and guardian

    /// @notice Registers an enclave signing key bound to `measurement` by the attestation
    ///         document whose digest is recorded. `expiresAt` 0 means no expiry. A key registered
    ///         again keeps its nonce counter, so its old signatures stay spent.
    function registerEnclave(address enclave, bytes calldata measurement, bytes32 attestationDigest, uint64 expiresAt)
        external
        onlyGovernance
    {
        Enclave storage record = enclaves[enclave];
        bytes32 measurementHash = keccak256(measurement);
        record.measurementHash = measurementHash;
        record.attestationDigest = attestationDigest;
        record.registeredAt = uint40(block.timestamp);
        record.expiresAt = uint40(expiresAt);
        record.revoked = false;
        emit EnclaveRegistered(enclave, measurementHash, attestationDigest, expiresAt);
    }

    function revokeEnclave(address enclave) external onlyGovernance {
        enclaves[enclave].revoked = true;
        emit EnclaveRevokedEvent(enclave);
    }

    function setMeasurementApproval(bytes calldata measurement, bool approved) external onlyGovernance {
        _setMeasurementApproval(measurement, approved);
    }

    function setBound(uint256 param, Bound calldata bound) external onlyGovernance {
        _setBound(param, bound);
    }

    function setExecutionWindow(uint40 seconds_) external onlyGovernance {
        _setExecutionWindow(seconds_);
    }

    function setGuardian(address newGuardian) external onlyGovernance {
        _setGuardian(newGuardian);
    }

    /// @notice Stops both paths and `applyUpdate`; the guardian's (or governance's) kill switch.
    function pause() external {
        if (msg.sender != _settings.guardian && msg.sender != address(timelock)) {
            revert OnlyGuardianOrGovernance(msg.sender);
        }
        _settings.paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyGovernance {
        _settings.paused = false;
        emit Unpaused(msg.sender);
    }

    // ------------------------------------------------------------------ checks

    function _checkEnclave(Enclave storage enclave, ParameterUpdate calldata u) internal view returns (uint64 nonce) {
        uint40 registeredAt = enclave.registeredAt;
        uint40 expiresAt = enclave.expiresAt;
        bool revoked = enclave.revoked;
        nonce = enclave.nonce;
        if (registeredAt == 0) revert EnclaveNotRegistered(u.enclave);
        if (revoked) revert EnclaveRevoked(u.enclave);
        if (expiresAt != 0 && block.timestamp > expiresAt) revert EnclaveRegistrationExpired(u.enclave, expiresAt);
        bytes32 measurementHash = keccak256(u.measurement);
        if (!approvedMeasurements[measurementHash]) revert MeasurementNotApproved(measurementHash);
        bytes32 registered = enclave.measurementHash;
        if (measurementHash != registered) revert MeasurementMismatch(registered, measurementHash);
    }

    /// @dev Steps 8 and 9 of submit (and the re-check of applyUpdate): each change against the value in
    ///      force, its cooldown and (slow path of submit only) its pending operation; then the
    ///      groups the update writes. Returns the post-update reserve and whether it only tightens.
    function _checkChanges(
        address asset,
        uint8[] calldata params,
        uint256[] calldata values,
        uint256 executionWindow,
        bool isApply
    ) internal view returns (Reserve memory reserve, bool fast) {
        uint256 count = params.length;
        if (count == 0 || count != values.length) revert MalformedUpdate();
        uint256 changed;
        for (uint256 i = 0; i < count; i++) {
            uint256 param = params[i];
            if (param >= PARAM_COUNT) revert UnknownParam(param);
            if (changed & (1 << param) != 0) revert DuplicateParam(param);
            changed |= 1 << param;
        }
        reserve = _readReserve(asset, changed & RATES_MASK != 0);
        fast = !isApply;
        for (uint256 i = 0; i < count && fast; i++) {
            fast = (TIGHTENING_PARAMS_MASK >> params[i]) & 1 == 1 && values[i] < reserve.values[params[i]];
        }
        ParamState[PARAM_COUNT] storage states = _paramStates[asset];
        for (uint256 i = 0; i < count; i++) {
            uint256 param = params[i];
            Bound memory bound = _bounds[param];
            _checkStep(param, reserve.values[param], values[i], bound);
            ParamState memory state = states[param];
            if (state.lastExecutedAt != 0) {
                uint256 readyAt = uint256(state.lastExecutedAt) + bound.cooldownSeconds;
                if (block.timestamp < readyAt) revert UpdateInCooldown(param, readyAt);
            }
            if (
                !isApply && !fast && state.pendingReadyAt != 0
                    && block.timestamp <= uint256(state.pendingReadyAt) + executionWindow
            ) revert ParamPending(param, state.pendingReadyAt);
            reserve.values[param] = values[i];
        }
        _checkConsistency(params, reserve.values, changed);
    }

    /// @dev The bounds check of Aave's risk stewards, integer for integer (strategies/bounds.py
    ///      check_step is its line-for-line mirror).
    function _checkStep(uint256 param, uint256 current, uint256 proposed, Bound memory bound) internal pure {
        if (current == proposed) revert ParamUnchanged(param, current);
        if (proposed == 0 && (NON_ZERO_PARAMS_MASK >> param) & 1 == 1) revert ZeroValueNotAllowed(param);
        if (proposed < bound.floor || proposed > bound.ceiling) {
            revert OutsideFloorCeiling(param, proposed, bound.floor, bound.ceiling);
        }
        uint256 difference = current > proposed ? current - proposed : proposed - current;
        uint256 maxDifference = bound.isRelative ? uint256(bound.maxChange) * current / BPS_MAX : bound.maxChange;
        if (difference > maxDifference) revert UpdateNotInRange(param, current, proposed, maxDifference);
    }

    /// @dev Aave's own limits for each changed value, then the consistency of each group the
    ///      update writes (collateral: LTV/LT/LB; rates: the curve), over the post-update set.
    function _checkConsistency(uint8[] calldata params, uint256[PARAM_COUNT] memory v, uint256 changed) internal pure {
        for (uint256 i = 0; i < params.length; i++) {
            uint256 param = params[i];
            uint256 limit = _protocolLimit(param);
            if (v[param] > limit) revert AboveProtocolLimit(param, v[param], limit);
        }
        if (changed & COLLATERAL_MASK != 0) {
            uint256 ltv = v[uint256(Param.Ltv)];
            uint256 threshold = v[uint256(Param.LiquidationThreshold)];
            uint256 bonus = v[uint256(Param.LiquidationBonus)];
            if (ltv > threshold) revert LtvAboveThreshold(ltv, threshold);
            if (threshold != 0 && bonus <= BPS_MAX) revert BonusNotAbove100(bonus);
            if (threshold * bonus > BPS_MAX * BPS_MAX) revert ThresholdTimesBonusAbove100(threshold, bonus);
        }
        if (changed & RATES_MASK != 0) {
            uint256 optimal = v[uint256(Param.OptimalUsageRatio)];
            uint256 slope1 = v[uint256(Param.VariableRateSlope1)];
            uint256 slope2 = v[uint256(Param.VariableRateSlope2)];
            if (
                optimal < MIN_OPTIMAL_USAGE_RATIO_BPS || optimal > MAX_OPTIMAL_USAGE_RATIO_BPS || slope1 > slope2
                    || v[uint256(Param.BaseVariableBorrowRate)] + slope1 + slope2 > MAX_BORROW_RATE_BPS
            ) revert InvalidRateCurve();
        }
    }

    function _protocolLimit(uint256 param) internal pure returns (uint256) {
        if (param <= uint256(Param.LiquidationBonus)) return MAX_VALID_LTV_LT_LB;
        if (param <= uint256(Param.BorrowCap)) return MAX_VALID_CAP_TOKENS;
        if (param == uint256(Param.ReserveFactor)) return MAX_VALID_RESERVE_FACTOR_BPS;
        return type(uint256).max; // rates: bounded by the curve check
    }

    // ------------------------------------------------------------------ Aave reads and writes

    /// @dev Reads the reserve's configuration word (LTV, LT, LB, RF, caps) and, when asked, its
    ///      rate strategy's variable curve in bps.
    function _readReserve(address asset, bool withRates) internal view returns (Reserve memory reserve) {
        uint256 config = pool.getConfiguration(asset);
        if (config & ACTIVE_BIT == 0) revert UnknownAsset(asset);
        reserve.values[uint256(Param.Ltv)] = config & 0xFFFF;
        reserve.values[uint256(Param.LiquidationThreshold)] = (config >> 16) & 0xFFFF;
        reserve.values[uint256(Param.LiquidationBonus)] = (config >> 32) & 0xFFFF;
        reserve.values[uint256(Param.ReserveFactor)] = (config >> 64) & 0xFFFF;
        reserve.values[uint256(Param.BorrowCap)] = (config >> 80) & MAX_VALID_CAP_TOKENS;
        reserve.values[uint256(Param.SupplyCap)] = (config >> 116) & MAX_VALID_CAP_TOKENS;
        if (withRates) {
            IDefaultReserveInterestRateStrategy strategy =
                IDefaultReserveInterestRateStrategy(pool.getReserveData(asset).interestRateStrategyAddress);
            reserve.rateStrategy = address(strategy);
            reserve.values[uint256(Param.OptimalUsageRatio)] = strategy.OPTIMAL_USAGE_RATIO() / RAY_PER_BPS;
            reserve.values[uint256(Param.BaseVariableBorrowRate)] = strategy.getBaseVariableBorrowRate() / RAY_PER_BPS;
            reserve.values[uint256(Param.VariableRateSlope1)] = strategy.getVariableRateSlope1() / RAY_PER_BPS;
            reserve.values[uint256(Param.VariableRateSlope2)] = strategy.getVariableRateSlope2() / RAY_PER_BPS;
        }
    }

    /// @dev Writes the changed groups through the PoolConfigurator; `reserve.values` is the
    ///      post-update set (unchanged fields as in force now), so only changed fields move.
    function _write(address asset, uint8[] calldata params, Reserve memory reserve) internal {
        uint256 changed;
        for (uint256 i = 0; i < params.length; i++) {
            changed |= 1 << params[i];
        }
        uint256[PARAM_COUNT] memory v = reserve.values;
        if (changed & COLLATERAL_MASK != 0) {
            configurator.configureReserveAsCollateral(
                asset, v[uint256(Param.Ltv)], v[uint256(Param.LiquidationThreshold)], v[uint256(Param.LiquidationBonus)]
            );
        }
        if (changed & (1 << uint256(Param.SupplyCap)) != 0) configurator.setSupplyCap(asset, v[uint256(Param.SupplyCap)]);
        if (changed & (1 << uint256(Param.BorrowCap)) != 0) configurator.setBorrowCap(asset, v[uint256(Param.BorrowCap)]);
        if (changed & (1 << uint256(Param.ReserveFactor)) != 0) {
            configurator.setReserveFactor(asset, v[uint256(Param.ReserveFactor)]);
        }
        if (changed & RATES_MASK != 0) {
            address strategy = rateStrategyFactory.getOrCreate(_newCurve(reserve.rateStrategy, v, changed));
            configurator.setReserveInterestRateStrategyAddress(asset, strategy);
        }
    }

    /// @dev The current strategy's nine parameters in ray, the changed ones substituted.
    function _newCurve(address current, uint256[PARAM_COUNT] memory v, uint256 changed)
        internal
        view
        returns (RateStrategyFactory.RateParams memory curve)
    {
        IDefaultReserveInterestRateStrategy strategy = IDefaultReserveInterestRateStrategy(current);
        curve.optimalUsageRatio = _rayOr(strategy.OPTIMAL_USAGE_RATIO(), v, changed, Param.OptimalUsageRatio);
        curve.baseVariableBorrowRate = _rayOr(strategy.getBaseVariableBorrowRate(), v, changed, Param.BaseVariableBorrowRate);
        uint256 slope1 = strategy.getVariableRateSlope1();
        curve.variableRateSlope1 = _rayOr(slope1, v, changed, Param.VariableRateSlope1);
        curve.variableRateSlope2 = _rayOr(strategy.getVariableRateSlope2(), v, changed, Param.VariableRateSlope2);
        curve.stableRateSlope1 = strategy.getStableRateSlope1();
        curve.stableRateSlope2 = strategy.getStableRateSlope2();
        curve.baseStableRateOffset = strategy.getBaseStableBorrowRate() - slope1;
        curve.stableRateExcessOffset = strategy.getStableRateExcessOffset();
        curve.optimalStableToTotalDebtRatio = strategy.OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO();
    }

    function _rayOr(uint256 currentRay, uint256[PARAM_COUNT] memory v, uint256 changed, Param param)
        internal
        pure
        returns (uint256)
    {
        return changed & (1 << uint256(param)) != 0 ? v[uint256(param)] * RAY_PER_BPS : currentRay;
    }

    // ------------------------------------------------------------------ timelock

    function _applyCall(address asset, uint8[] calldata params, uint256[] calldata values, bytes32 updateHash)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(this.applyUpdate, (asset, params, values, updateHash));
    }

    /// @dev TimelockController.hashOperation of the one call this.applyUpdate(...).
    function _operationId(bytes memory payload, bytes32 salt) internal view returns (bytes32) {
        return keccak256(abi.encode(address(this), uint256(0), payload, bytes32(0), salt));
    }

    function _schedule(bytes memory payload, bytes32 salt, uint256 delay) internal {
        timelock.schedule(address(this), 0, payload, bytes32(0), salt, delay);
    }

    // ------------------------------------------------------------------ settings

    function _setBound(uint256 param, Bound memory bound) internal {
        if (param >= PARAM_COUNT || bound.cooldownSeconds == 0 || bound.maxChange == 0 || bound.floor > bound.ceiling) {
            revert InvalidBound(param);
        }
        _bounds[param] = bound;
        emit BoundSet(param, bound.cooldownSeconds, bound.maxChange, bound.isRelative, bound.floor, bound.ceiling);
    }

    function _setExecutionWindow(uint40 seconds_) internal {
        if (seconds_ == 0) revert InvalidExecutionWindow(seconds_);
        _settings.executionWindowSeconds = seconds_;
        emit ExecutionWindowSet(seconds_);
    }

    function _setGuardian(address newGuardian) internal {
        if (newGuardian == address(0)) revert InvalidGuardian(newGuardian);
        _settings.guardian = newGuardian;
        emit GuardianSet(newGuardian);
    }

    function _setMeasurementApproval(bytes memory measurement, bool approved) internal {
        bytes32 measurementHash = keccak256(measurement);
        approvedMeasurements[measurementHash] = approved;
        emit MeasurementApprovalSet(measurementHash, approved);
    }
}
