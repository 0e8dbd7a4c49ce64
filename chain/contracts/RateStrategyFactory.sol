// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The getters of Aave v3.0's DefaultReserveInterestRateStrategy (all rates in ray).
interface IDefaultReserveInterestRateStrategy {
    function OPTIMAL_USAGE_RATIO() external view returns (uint256);
    function OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO() external view returns (uint256);
    function getBaseVariableBorrowRate() external view returns (uint256);
    function getVariableRateSlope1() external view returns (uint256);
    function getVariableRateSlope2() external view returns (uint256);
    function getStableRateSlope1() external view returns (uint256);
    function getStableRateSlope2() external view returns (uint256);
    function getBaseStableBorrowRate() external view returns (uint256);
    function getStableRateExcessOffset() external view returns (uint256);
}

/// @title RateStrategyFactory
/// @notice Deploys Aave v3.0's own DefaultReserveInterestRateStrategy (the creation code from
///         the artifact in Aave's core-v3 npm package, unmodified, given once at construction) with CREATE2, keyed
///         by its parameters, and returns the existing one when that curve was deployed before.
///         Aave v3.0 rate strategies are immutable, so a rate change is "get or create a strategy
///         for the new curve, then point the reserve at it", as Aave's config engine did.
/// @dev Invariants:
///      - The creation code is written once, at construction, into a data contract (runtime code
///        = 0x00 followed by the creation code, so calling it stops at once); it never changes.
///      - One curve (the nine constructor values) maps to exactly one address, `predict(params)`;
///        `getOrCreate` deploys there at most once and afterwards returns the same address.
///      - Every strategy is built for `addressesProvider`; nothing else is ever deployed.
///      - Anyone may call `getOrCreate`: a strategy is an immutable contract with no owner.
contract RateStrategyFactory {
    /// @notice The constructor arguments of DefaultReserveInterestRateStrategy after the
    ///         provider, in its order; every value in ray (1e27 = 100%).
    struct RateParams {
        uint256 optimalUsageRatio;
        uint256 baseVariableBorrowRate;
        uint256 variableRateSlope1;
        uint256 variableRateSlope2;
        uint256 stableRateSlope1;
        uint256 stableRateSlope2;
        uint256 baseStableRateOffset;
        uint256 stableRateExcessOffset;
        uint256 optimalStableToTotalDebtRatio;
    }

    /// @notice The Aave PoolAddressesProvider every strategy is built for.
    address public immutable addressesProvider;
    /// @notice The data contract holding the creation code (after one 0x00 byte).
    address public immutable creationCodeStore;
    /// @notice keccak256 of the creation code, so anyone can compare it with Aave's artifact.
    bytes32 public immutable creationCodeHash;
    uint256 private immutable creationCodeLength;

    /// @notice A strategy was deployed for a curve not seen before.
    event StrategyCreated(address indexed strategy, bytes32 indexed key, RateParams params);

    error EmptyCreationCode();
    error CreationCodeTooLarge(uint256 length, uint256 maxLength);
    error CodeStoreFailed();

    /// @param provider The PoolAddressesProvider the strategies read.
    /// @param creationCode DefaultReserveInterestRateStrategy's creation bytecode (no arguments).
    constructor(address provider, bytes memory creationCode) {
        uint256 length = creationCode.length;
        if (length == 0) revert EmptyCreationCode();
        // EIP-170: the data contract's runtime (one stop byte + the code) must fit 24,576 bytes.
        if (length > 24_575) revert CreationCodeTooLarge(length, 24_575);
        // 10 bytes of init code, then the data: PUSH2 size, DUP1, PUSH1 10, RETURNDATASIZE (0),
        // CODECOPY, RETURNDATASIZE, RETURN -- returns everything after itself as runtime code.
        bytes memory init = abi.encodePacked(hex"61", uint16(length + 1), hex"80600a3d393df3", hex"00", creationCode);
        address store;
        assembly ("memory-safe") {
            store := create(0, add(init, 0x20), mload(init))
        }
        if (store == address(0)) revert CodeStoreFailed();
        addressesProvider = provider;
        creationCodeStore = store;
        creationCodeHash = keccak256(creationCode);
        creationCodeLength = length;
    }

    /// @notice The CREATE2 salt of a curve: keccak256 of its ABI encoding.
    function key(RateParams calldata params) public pure returns (bytes32) {
        return keccak256(abi.encode(params));
    }

    /// @notice Where the strategy for `params` lives (or will live once created).
    function predict(RateParams calldata params) public view returns (address) {
        return _predict(key(params), keccak256(_initCode(params)));
    }

    /// @notice The strategy for `params`: the existing one, or a new one deployed now.
    /// @dev Reverts with Aave's own error when its constructor refuses the curve (e.g. an
    ///      optimal usage ratio above 100%).
    function getOrCreate(RateParams calldata params) external returns (address strategy) {
        bytes memory init = _initCode(params);
        bytes32 salt = key(params);
        strategy = _predict(salt, keccak256(init));
        if (strategy.code.length != 0) return strategy;
        assembly ("memory-safe") {
            strategy := create2(0, add(init, 0x20), mload(init), salt)
            if iszero(strategy) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
        emit StrategyCreated(strategy, salt, params);
    }

    /// @notice The creation code as stored, for anyone comparing it with Aave's artifact.
    function creationCode() public view returns (bytes memory code) {
        uint256 length = creationCodeLength;
        address store = creationCodeStore;
        code = new bytes(length);
        assembly ("memory-safe") {
            extcodecopy(store, add(code, 0x20), 1, length)
        }
    }

    function _initCode(RateParams calldata params) internal view returns (bytes memory) {
        return abi.encodePacked(creationCode(), abi.encode(addressesProvider, params));
    }

    function _predict(bytes32 salt, bytes32 initCodeHash) internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }
}
