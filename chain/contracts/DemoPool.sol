// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

interface IPriceOracle {
    function getAssetPrice(address asset) external view returns (uint256);
}

/// @title DemoPool
/// @notice A small but real lending pool with the Aave v3 surface that risk work touches: the
///         Pool (supply, withdraw, borrow, repay, liquidationCall, getUserAccountData), the
///         PoolConfigurator setters, the AaveProtocolDataProvider views and the v3.2 rate
///         strategy view, with Aave's names, argument order and units. One adapter reads it and a
///         real Aave v3 deployment alike.
/// @dev Invariants:
///      - LTV <= liquidation threshold; threshold x bonus <= 100%; bonus > 100% for collateral.
///      - Borrow interest compounds per second on the kinked v3.2 curve; supply interest is
///        the borrow interest times utilization times (1 - reserve factor), linear per second.
///      - A borrow or withdrawal never leaves the account below its LTV or health factor 1.
///      - Once an account has no collateral left after a liquidation, its remaining debt is
///        written off into the reserve's deficit (bad debt), as in Aave v3.3.
contract DemoPool {
    using SafeERC20 for IERC20;

    uint256 internal constant RAY = 1e27;
    uint256 internal constant BPS_TO_RAY = 1e23;
    uint256 public constant PERCENTAGE_FACTOR = 10_000;
    uint256 public constant SECONDS_PER_YEAR = 365 days;
    uint256 public constant HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1e18;
    /// @notice Below this health factor a liquidation may repay all of the debt, not half.
    uint256 public constant CLOSE_FACTOR_HF_THRESHOLD = 0.95e18;
    uint256 public constant DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS = 5_000;
    uint256 public constant MIN_OPTIMAL_USAGE_RATIO_BPS = 100;
    uint256 public constant MAX_OPTIMAL_USAGE_RATIO_BPS = 9_900;
    uint256 public constant MAX_BORROW_RATE_BPS = 100_000;
    uint256 public constant INTEREST_RATE_MODE_VARIABLE = 2;

    /// @notice v3.2 rate parameters, all in bps.
    struct InterestRateData {
        uint16 optimalUsageRatio;
        uint32 baseVariableBorrowRate;
        uint32 variableRateSlope1;
        uint32 variableRateSlope2;
    }

    struct TokenData {
        string symbol;
        address tokenAddress;
    }

    struct Reserve {
        bool active;
        uint8 decimals;
        uint16 ltvBps;
        uint16 liquidationThresholdBps;
        uint16 liquidationBonusBps;
        uint16 reserveFactorBps;
        uint16 liquidationProtocolFeeBps;
        uint40 lastUpdateTimestamp;
        uint256 supplyCapTokens;
        uint256 borrowCapTokens;
        InterestRateData rates;
        uint256 liquidityIndexRay;
        uint256 variableBorrowIndexRay;
        uint256 currentLiquidityRateRay;
        uint256 currentVariableBorrowRateRay;
        uint256 totalScaledSupply;
        uint256 totalScaledDebt;
        uint256 virtualUnderlyingBalance;
        uint256 accruedToTreasury;
        uint256 deficit;
    }

    address public poolAdmin;
    address public immutable treasury;
    IPriceOracle public immutable oracle;
    address[] internal reservesList;
    mapping(address => Reserve) internal reserves;
    mapping(address => mapping(address => uint256)) internal scaledSupplyOf;
    mapping(address => mapping(address => uint256)) internal scaledDebtOf;

    error OnlyPoolAdmin(address caller);
    error ReserveNotActive(address asset);
    error ReserveAlreadyInitialized(address asset);
    error InvalidAmount();
    error InvalidReserveParams();
    error InvalidRateData();
    error InvalidPrice(address asset);
    error SupplyCapExceeded(address asset, uint256 capTokens);
    error BorrowCapExceeded(address asset, uint256 capTokens);
    error NotEnoughLiquidity(address asset, uint256 available);
    error CollateralCannotCoverNewBorrow();
    error HealthFactorLowerThanLiquidationThreshold();
    error HealthFactorNotBelowThreshold(uint256 healthFactor);
    error OnlyVariableRate();
    error NoCreditDelegation();
    error NoDebtOfSelectedType();
    error NoCollateralOfSelectedType();
    error NotEnoughBalance(uint256 balance);

    event Supply(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint16 indexed referralCode);
    event Withdraw(address indexed reserve, address indexed user, address indexed to, uint256 amount);
    event Borrow(address indexed reserve, address user, address indexed onBehalfOf, uint256 amount, uint8 interestRateMode, uint256 borrowRate, uint16 indexed referralCode);
    event Repay(address indexed reserve, address indexed user, address indexed repayer, uint256 amount, bool useATokens);
    event LiquidationCall(address indexed collateralAsset, address indexed debtAsset, address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, address liquidator, bool receiveAToken);
    event DeficitCreated(address indexed user, address indexed debtAsset, uint256 amountCreated);
    event ReserveDataUpdated(address indexed reserve, uint256 liquidityRate, uint256 stableBorrowRate, uint256 variableBorrowRate, uint256 liquidityIndex, uint256 variableBorrowIndex);
    event ReserveInitialized(address indexed asset, uint8 decimals);
    event CollateralConfigurationChanged(address indexed asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus);
    event SupplyCapChanged(address indexed asset, uint256 oldSupplyCap, uint256 newSupplyCap);
    event BorrowCapChanged(address indexed asset, uint256 oldBorrowCap, uint256 newBorrowCap);
    event ReserveFactorChanged(address indexed asset, uint256 oldReserveFactor, uint256 newReserveFactor);
    event LiquidationProtocolFeeChanged(address indexed asset, uint256 oldFee, uint256 newFee);
    event RateDataUpdate(address indexed reserve, uint256 optimalUsageRatio, uint256 baseVariableBorrowRate, uint256 variableRateSlope1, uint256 variableRateSlope2);
    event PoolAdminUpdated(address indexed oldAdmin, address indexed newAdmin);

    modifier onlyPoolAdmin() {
        if (msg.sender != poolAdmin) revert OnlyPoolAdmin(msg.sender);
        _;
    }

    constructor(address oracle_, address treasury_, address poolAdmin_) {
        oracle = IPriceOracle(oracle_);
        treasury = treasury_;
        poolAdmin = poolAdmin_;
    }

    // ------------------------------------------------------------------ Pool

    /// @notice Deposits `amount` (raw units) of `asset` for `onBehalfOf`.
    function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode) external {
        Reserve storage r = _accrue(asset);
        if (amount == 0) revert InvalidAmount();
        if (r.supplyCapTokens != 0 && _totalSupply(r) + amount > r.supplyCapTokens * 10 ** r.decimals) {
            revert SupplyCapExceeded(asset, r.supplyCapTokens);
        }
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        uint256 scaled = Math.mulDiv(amount, RAY, r.liquidityIndexRay);
        scaledSupplyOf[asset][onBehalfOf] += scaled;
        r.totalScaledSupply += scaled;
        r.virtualUnderlyingBalance += amount;
        _updateRates(asset, r);
        emit Supply(asset, msg.sender, onBehalfOf, amount, referralCode);
    }

    /// @notice Withdraws `amount` (type(uint256).max for all) of the caller's deposit to `to`.
    function withdraw(address asset, uint256 amount, address to) external returns (uint256) {
        Reserve storage r = _accrue(asset);
        uint256 balance = _supplyBalance(r, asset, msg.sender);
        if (amount == type(uint256).max) amount = balance;
        if (amount == 0) revert InvalidAmount();
        if (amount > balance) revert NotEnoughBalance(balance);
        if (amount > r.virtualUnderlyingBalance) revert NotEnoughLiquidity(asset, r.virtualUnderlyingBalance);
        _burnSupply(r, asset, msg.sender, amount, balance);
        r.virtualUnderlyingBalance -= amount;
        (,,,,, uint256 healthFactor) = getUserAccountData(msg.sender);
        if (healthFactor < HEALTH_FACTOR_LIQUIDATION_THRESHOLD) revert HealthFactorLowerThanLiquidationThreshold();
        _updateRates(asset, r);
        IERC20(asset).safeTransfer(to, amount);
        emit Withdraw(asset, msg.sender, to, amount);
        return amount;
    }

    /// @notice Borrows `amount` at the variable rate (mode 2) against the caller's collateral.
    function borrow(address asset, uint256 amount, uint256 interestRateMode, uint16 referralCode, address onBehalfOf)
        external
    {
        if (interestRateMode != INTEREST_RATE_MODE_VARIABLE) revert OnlyVariableRate();
        if (onBehalfOf != msg.sender) revert NoCreditDelegation();
        Reserve storage r = _accrue(asset);
        if (amount == 0) revert InvalidAmount();
        if (r.borrowCapTokens != 0 && _totalDebt(r) + amount > r.borrowCapTokens * 10 ** r.decimals) {
            revert BorrowCapExceeded(asset, r.borrowCapTokens);
        }
        if (amount > r.virtualUnderlyingBalance) revert NotEnoughLiquidity(asset, r.virtualUnderlyingBalance);
        uint256 scaled = Math.mulDiv(amount, RAY, r.variableBorrowIndexRay, Math.Rounding.Ceil);
        scaledDebtOf[asset][msg.sender] += scaled;
        r.totalScaledDebt += scaled;
        r.virtualUnderlyingBalance -= amount;
        (uint256 collateralBase, uint256 debtBase,,, uint256 ltv,) = getUserAccountData(msg.sender);
        if (debtBase * PERCENTAGE_FACTOR > collateralBase * ltv) revert CollateralCannotCoverNewBorrow();
        _updateRates(asset, r);
        IERC20(asset).safeTransfer(msg.sender, amount);
        emit Borrow(asset, msg.sender, onBehalfOf, amount, uint8(interestRateMode), r.currentVariableBorrowRateRay, referralCode);
    }

    /// @notice Repays up to `amount` (type(uint256).max for all) of `onBehalfOf`'s debt; returns the amount repaid.
    function repay(address asset, uint256 amount, uint256 interestRateMode, address onBehalfOf) external returns (uint256) {
        if (interestRateMode != INTEREST_RATE_MODE_VARIABLE) revert OnlyVariableRate();
        Reserve storage r = _accrue(asset);
        uint256 debt = _debtBalance(r, asset, onBehalfOf);
        if (debt == 0) revert NoDebtOfSelectedType();
        uint256 payback = amount < debt ? amount : debt;
        if (payback == 0) revert InvalidAmount();
        IERC20(asset).safeTransferFrom(msg.sender, address(this), payback);
        _burnDebt(r, asset, onBehalfOf, payback, debt);
        r.virtualUnderlyingBalance += payback;
        _updateRates(asset, r);
        emit Repay(asset, onBehalfOf, msg.sender, payback, false);
        return payback;
    }

    /// @notice Repays part of an unhealthy account's debt in exchange for its collateral plus the
    ///         liquidation bonus (Aave v3 semantics: close factor 50%, 100% below HF 0.95).
    function liquidationCall(address collateralAsset, address debtAsset, address user, uint256 debtToCover, bool receiveAToken)
        external
    {
        Reserve storage collateralReserve = _accrue(collateralAsset);
        Reserve storage debtReserve = _accrue(debtAsset);
        (,,,,, uint256 healthFactor) = getUserAccountData(user);
        if (healthFactor >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD) revert HealthFactorNotBelowThreshold(healthFactor);
        uint256 userDebt = _debtBalance(debtReserve, debtAsset, user);
        if (userDebt == 0) revert NoDebtOfSelectedType();
        uint256 userCollateral = _supplyBalance(collateralReserve, collateralAsset, user);
        if (userCollateral == 0 || collateralReserve.liquidationThresholdBps == 0) revert NoCollateralOfSelectedType();

        (uint256 collateralAmount, uint256 debtAmount, uint256 protocolFee) = _collateralToSeize(
            collateralAsset, debtAsset, _closeFactorLimit(healthFactor, userDebt, debtToCover), userCollateral
        );

        IERC20(debtAsset).safeTransferFrom(msg.sender, address(this), debtAmount);
        _burnDebt(debtReserve, debtAsset, user, debtAmount, userDebt);
        debtReserve.virtualUnderlyingBalance += debtAmount;
        _burnSupply(collateralReserve, collateralAsset, user, collateralAmount, userCollateral);
        _payLiquidator(collateralAsset, collateralAmount - protocolFee, protocolFee, receiveAToken);
        _writeOffIfNoCollateral(user);
        _updateRates(debtAsset, debtReserve);
        if (collateralAsset != debtAsset) _updateRates(collateralAsset, collateralReserve);
        emit LiquidationCall(collateralAsset, debtAsset, user, debtAmount, collateralAmount, msg.sender, receiveAToken);
    }

    /// @notice Account totals in USD (8 decimals), weighted LTV and threshold (bps), health factor (1e18).
    function getUserAccountData(address user)
        public
        view
        returns (
            uint256 totalCollateralBase,
            uint256 totalDebtBase,
            uint256 availableBorrowsBase,
            uint256 currentLiquidationThreshold,
            uint256 ltv,
            uint256 healthFactor
        )
    {
        uint256 weightedThreshold;
        uint256 weightedLtv;
        for (uint256 i = 0; i < reservesList.length; i++) {
            address asset = reservesList[i];
            Reserve storage r = reserves[asset];
            uint256 scaledSupply = scaledSupplyOf[asset][user];
            uint256 scaledDebt = scaledDebtOf[asset][user];
            if (scaledSupply == 0 && scaledDebt == 0) continue;
            uint256 price = oracle.getAssetPrice(asset);
            if (price == 0) revert InvalidPrice(asset);
            uint256 unit = 10 ** r.decimals;
            if (scaledSupply != 0 && r.liquidationThresholdBps != 0) {
                uint256 value = Math.mulDiv(scaledSupply, getReserveNormalizedIncome(asset), RAY) * price / unit;
                totalCollateralBase += value;
                weightedThreshold += value * r.liquidationThresholdBps;
                weightedLtv += value * r.ltvBps;
            }
            if (scaledDebt != 0) {
                totalDebtBase += Math.mulDiv(scaledDebt, getReserveNormalizedVariableDebt(asset), RAY, Math.Rounding.Ceil)
                    * price / unit;
            }
        }
        if (totalCollateralBase != 0) {
            currentLiquidationThreshold = weightedThreshold / totalCollateralBase;
            ltv = weightedLtv / totalCollateralBase;
        }
        uint256 borrowingPower = totalCollateralBase * ltv / PERCENTAGE_FACTOR;
        availableBorrowsBase = borrowingPower > totalDebtBase ? borrowingPower - totalDebtBase : 0;
        healthFactor = totalDebtBase == 0
            ? type(uint256).max
            : Math.mulDiv(totalCollateralBase * currentLiquidationThreshold, 1e18, totalDebtBase * PERCENTAGE_FACTOR);
    }

    /// @notice Supply index (ray) as of now, including interest not yet written.
    function getReserveNormalizedIncome(address asset) public view returns (uint256) {
        Reserve storage r = reserves[asset];
        uint256 elapsed = block.timestamp - r.lastUpdateTimestamp;
        if (elapsed == 0) return r.liquidityIndexRay;
        return Math.mulDiv(r.liquidityIndexRay, RAY + r.currentLiquidityRateRay * elapsed / SECONDS_PER_YEAR, RAY);
    }

    /// @notice Borrow index (ray) as of now, compounded per second.
    function getReserveNormalizedVariableDebt(address asset) public view returns (uint256) {
        Reserve storage r = reserves[asset];
        uint256 elapsed = block.timestamp - r.lastUpdateTimestamp;
        if (elapsed == 0) return r.variableBorrowIndexRay;
        return Math.mulDiv(r.variableBorrowIndexRay, calculateCompoundedInterest(r.currentVariableBorrowRateRay, elapsed), RAY);
    }

    /// @notice Aave's MathUtils.calculateCompoundedInterest: (1 + rate/year)^seconds by a
    ///         three-term binomial expansion, in ray.
    function calculateCompoundedInterest(uint256 rateRay, uint256 elapsedSeconds) public pure returns (uint256) {
        if (elapsedSeconds == 0) return RAY;
        uint256 expMinusOne = elapsedSeconds - 1;
        uint256 expMinusTwo = elapsedSeconds > 2 ? elapsedSeconds - 2 : 0;
        uint256 basePowerTwo = Math.mulDiv(rateRay, rateRay, RAY) / (SECONDS_PER_YEAR * SECONDS_PER_YEAR);
        uint256 basePowerThree = Math.mulDiv(basePowerTwo, rateRay, RAY) / SECONDS_PER_YEAR;
        uint256 secondTerm = elapsedSeconds * expMinusOne * basePowerTwo / 2;
        uint256 thirdTerm = elapsedSeconds * expMinusOne * expMinusTwo * basePowerThree / 6;
        return RAY + rateRay * elapsedSeconds / SECONDS_PER_YEAR + secondTerm + thirdTerm;
    }

    /// @notice Reserve deficit (bad debt written off), raw units of the asset (Aave v3.3).
    function getReserveDeficit(address asset) external view returns (uint256) {
        return reserves[asset].deficit;
    }

    /// @notice The caller-visible deposit of `user` in `asset`, raw units, interest included.
    function supplyBalanceOf(address asset, address user) external view returns (uint256) {
        return Math.mulDiv(scaledSupplyOf[asset][user], getReserveNormalizedIncome(asset), RAY);
    }

    /// @notice The debt of `user` in `asset`, raw units, interest included.
    function debtBalanceOf(address asset, address user) external view returns (uint256) {
        return Math.mulDiv(scaledDebtOf[asset][user], getReserveNormalizedVariableDebt(asset), RAY, Math.Rounding.Ceil);
    }

    function getReservesList() external view returns (address[] memory) {
        return reservesList;
    }

    // ------------------------------------------------------------------ PoolConfigurator

    /// @notice Lists `asset` with its rate curve; collateral settings and caps start at 0.
    function initReserve(address asset, InterestRateData calldata rates) external onlyPoolAdmin {
        Reserve storage r = reserves[asset];
        if (r.active) revert ReserveAlreadyInitialized(asset);
        _validateRateData(rates);
        r.active = true;
        r.decimals = IERC20Metadata(asset).decimals();
        r.liquidityIndexRay = RAY;
        r.variableBorrowIndexRay = RAY;
        r.lastUpdateTimestamp = uint40(block.timestamp);
        r.liquidationProtocolFeeBps = 1_000;
        r.rates = rates;
        reservesList.push(asset);
        emit ReserveInitialized(asset, r.decimals);
        emit RateDataUpdate(asset, rates.optimalUsageRatio, rates.baseVariableBorrowRate, rates.variableRateSlope1, rates.variableRateSlope2);
    }

    /// @notice PoolConfigurator.configureReserveAsCollateral: LTV, threshold and bonus in bps,
    ///         bonus as 10000 + bonus (10500 = 5%).
    function configureReserveAsCollateral(address asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external
        onlyPoolAdmin
    {
        Reserve storage r = _accrue(asset);
        if (ltv > liquidationThreshold) revert InvalidReserveParams();
        if (liquidationThreshold != 0) {
            if (liquidationBonus <= PERCENTAGE_FACTOR) revert InvalidReserveParams();
            if (liquidationThreshold * liquidationBonus > PERCENTAGE_FACTOR * PERCENTAGE_FACTOR) revert InvalidReserveParams();
        } else if (liquidationBonus != 0) {
            revert InvalidReserveParams();
        }
        r.ltvBps = uint16(ltv);
        r.liquidationThresholdBps = uint16(liquidationThreshold);
        r.liquidationBonusBps = uint16(liquidationBonus);
        emit CollateralConfigurationChanged(asset, ltv, liquidationThreshold, liquidationBonus);
    }

    /// @notice PoolConfigurator.setSupplyCap, whole tokens, 0 = no cap.
    function setSupplyCap(address asset, uint256 newSupplyCap) external onlyPoolAdmin {
        Reserve storage r = _accrue(asset);
        emit SupplyCapChanged(asset, r.supplyCapTokens, newSupplyCap);
        r.supplyCapTokens = newSupplyCap;
    }

    /// @notice PoolConfigurator.setBorrowCap, whole tokens, 0 = no cap.
    function setBorrowCap(address asset, uint256 newBorrowCap) external onlyPoolAdmin {
        Reserve storage r = _accrue(asset);
        emit BorrowCapChanged(asset, r.borrowCapTokens, newBorrowCap);
        r.borrowCapTokens = newBorrowCap;
    }

    /// @notice PoolConfigurator.setReserveFactor, bps of borrow interest kept by the treasury.
    function setReserveFactor(address asset, uint256 newReserveFactor) external onlyPoolAdmin {
        if (newReserveFactor > PERCENTAGE_FACTOR) revert InvalidReserveParams();
        Reserve storage r = _accrue(asset);
        emit ReserveFactorChanged(asset, r.reserveFactorBps, newReserveFactor);
        r.reserveFactorBps = uint16(newReserveFactor);
        _updateRates(asset, r);
    }

    /// @notice PoolConfigurator.setLiquidationProtocolFee, bps of the liquidation bonus.
    function setLiquidationProtocolFee(address asset, uint256 newFee) external onlyPoolAdmin {
        if (newFee > PERCENTAGE_FACTOR) revert InvalidReserveParams();
        Reserve storage r = _accrue(asset);
        emit LiquidationProtocolFeeChanged(asset, r.liquidationProtocolFeeBps, newFee);
        r.liquidationProtocolFeeBps = uint16(newFee);
    }

    /// @notice PoolConfigurator.setReserveInterestRateData (v3.2): `rateData` is the ABI encoding
    ///         of InterestRateData in bps.
    function setReserveInterestRateData(address asset, bytes calldata rateData) external onlyPoolAdmin {
        InterestRateData memory rates = abi.decode(rateData, (InterestRateData));
        _validateRateData(rates);
        Reserve storage r = _accrue(asset);
        r.rates = rates;
        _updateRates(asset, r);
        emit RateDataUpdate(asset, rates.optimalUsageRatio, rates.baseVariableBorrowRate, rates.variableRateSlope1, rates.variableRateSlope2);
    }

    /// @notice Hands the configurator role (in the system: to the governance timelock).
    function setPoolAdmin(address newAdmin) external onlyPoolAdmin {
        emit PoolAdminUpdated(poolAdmin, newAdmin);
        poolAdmin = newAdmin;
    }

    // ------------------------------------------------------------------ Data provider views

    /// @notice AaveProtocolDataProvider.getAllReservesTokens.
    function getAllReservesTokens() external view returns (TokenData[] memory tokens) {
        tokens = new TokenData[](reservesList.length);
        for (uint256 i = 0; i < reservesList.length; i++) {
            tokens[i] = TokenData(IERC20Metadata(reservesList[i]).symbol(), reservesList[i]);
        }
    }

    /// @notice AaveProtocolDataProvider.getReserveConfigurationData (bps; bonus as 10000 + bonus).
    function getReserveConfigurationData(address asset)
        external
        view
        returns (
            uint256 decimals,
            uint256 ltv,
            uint256 liquidationThreshold,
            uint256 liquidationBonus,
            uint256 reserveFactor,
            bool usageAsCollateralEnabled,
            bool borrowingEnabled,
            bool stableBorrowRateEnabled,
            bool isActive,
            bool isFrozen
        )
    {
        Reserve storage r = reserves[asset];
        return (
            r.decimals,
            r.ltvBps,
            r.liquidationThresholdBps,
            r.liquidationBonusBps,
            r.reserveFactorBps,
            r.liquidationThresholdBps != 0,
            r.active,
            false,
            r.active,
            false
        );
    }

    /// @notice AaveProtocolDataProvider.getReserveCaps, whole tokens.
    function getReserveCaps(address asset) external view returns (uint256 borrowCap, uint256 supplyCap) {
        Reserve storage r = reserves[asset];
        return (r.borrowCapTokens, r.supplyCapTokens);
    }

    /// @notice AaveProtocolDataProvider.getReserveData: totals in raw units, rates and indexes in ray.
    function getReserveData(address asset)
        external
        view
        returns (
            uint256 unbacked,
            uint256 accruedToTreasuryScaled,
            uint256 totalAToken,
            uint256 totalStableDebt,
            uint256 totalVariableDebt,
            uint256 liquidityRate,
            uint256 variableBorrowRate,
            uint256 stableBorrowRate,
            uint256 averageStableBorrowRate,
            uint256 liquidityIndex,
            uint256 variableBorrowIndex,
            uint40 lastUpdateTimestamp
        )
    {
        Reserve storage r = reserves[asset];
        accruedToTreasuryScaled = r.accruedToTreasury;
        totalAToken = Math.mulDiv(r.totalScaledSupply, getReserveNormalizedIncome(asset), RAY);
        totalVariableDebt = Math.mulDiv(r.totalScaledDebt, getReserveNormalizedVariableDebt(asset), RAY);
        liquidityRate = r.currentLiquidityRateRay;
        variableBorrowRate = r.currentVariableBorrowRateRay;
        liquidityIndex = r.liquidityIndexRay;
        variableBorrowIndex = r.variableBorrowIndexRay;
        lastUpdateTimestamp = r.lastUpdateTimestamp;
    }

    /// @notice AaveProtocolDataProvider.getLiquidationProtocolFee, bps of the bonus.
    function getLiquidationProtocolFee(address asset) external view returns (uint256) {
        return reserves[asset].liquidationProtocolFeeBps;
    }

    /// @notice DefaultReserveInterestRateStrategyV2.getInterestRateDataBps.
    function getInterestRateDataBps(address asset) external view returns (InterestRateData memory) {
        return reserves[asset].rates;
    }

    // ------------------------------------------------------------------ internals

    function _accrue(address asset) internal returns (Reserve storage r) {
        r = reserves[asset];
        if (!r.active) revert ReserveNotActive(asset);
        if (r.lastUpdateTimestamp == block.timestamp) return r;
        uint256 previousDebt = Math.mulDiv(r.totalScaledDebt, r.variableBorrowIndexRay, RAY);
        r.liquidityIndexRay = getReserveNormalizedIncome(asset);
        r.variableBorrowIndexRay = getReserveNormalizedVariableDebt(asset);
        uint256 interest = Math.mulDiv(r.totalScaledDebt, r.variableBorrowIndexRay, RAY) - previousDebt;
        r.accruedToTreasury += interest * r.reserveFactorBps / PERCENTAGE_FACTOR;
        r.lastUpdateTimestamp = uint40(block.timestamp);
    }

    /// @dev The v3.2 kinked curve: below the optimal ratio the rate rises by slope1, above by slope2.
    function _updateRates(address asset, Reserve storage r) internal {
        uint256 debt = _totalDebt(r);
        uint256 usageRatioRay = debt == 0 ? 0 : Math.mulDiv(debt, RAY, debt + r.virtualUnderlyingBalance);
        uint256 optimalRay = uint256(r.rates.optimalUsageRatio) * BPS_TO_RAY;
        uint256 borrowRateRay = uint256(r.rates.baseVariableBorrowRate) * BPS_TO_RAY;
        if (usageRatioRay <= optimalRay) {
            borrowRateRay += Math.mulDiv(uint256(r.rates.variableRateSlope1) * BPS_TO_RAY, usageRatioRay, optimalRay);
        } else {
            borrowRateRay += uint256(r.rates.variableRateSlope1) * BPS_TO_RAY
                + Math.mulDiv(uint256(r.rates.variableRateSlope2) * BPS_TO_RAY, usageRatioRay - optimalRay, RAY - optimalRay);
        }
        r.currentVariableBorrowRateRay = borrowRateRay;
        r.currentLiquidityRateRay = Math.mulDiv(
            Math.mulDiv(borrowRateRay, usageRatioRay, RAY), PERCENTAGE_FACTOR - r.reserveFactorBps, PERCENTAGE_FACTOR
        );
        emit ReserveDataUpdated(asset, r.currentLiquidityRateRay, 0, borrowRateRay, r.liquidityIndexRay, r.variableBorrowIndexRay);
    }

    function _validateRateData(InterestRateData memory rates) internal pure {
        if (
            rates.optimalUsageRatio < MIN_OPTIMAL_USAGE_RATIO_BPS || rates.optimalUsageRatio > MAX_OPTIMAL_USAGE_RATIO_BPS
                || rates.variableRateSlope1 > rates.variableRateSlope2
                || uint256(rates.baseVariableBorrowRate) + rates.variableRateSlope1 + rates.variableRateSlope2 > MAX_BORROW_RATE_BPS
        ) revert InvalidRateData();
    }

    /// @dev Close factor: half the debt, all of it once the health factor is at or below 0.95.
    function _closeFactorLimit(uint256 healthFactor, uint256 userDebt, uint256 debtToCover)
        internal
        pure
        returns (uint256)
    {
        uint256 closeFactorBps =
            healthFactor > CLOSE_FACTOR_HF_THRESHOLD ? DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS : PERCENTAGE_FACTOR;
        uint256 maxDebt = userDebt * closeFactorBps / PERCENTAGE_FACTOR;
        return debtToCover < maxDebt ? debtToCover : maxDebt;
    }

    function _collateralToSeize(address collateralAsset, address debtAsset, uint256 debtToCover, uint256 userCollateral)
        internal
        view
        returns (uint256 collateralAmount, uint256 debtAmount, uint256 protocolFee)
    {
        Reserve storage collateralReserve = reserves[collateralAsset];
        uint256 collateralPrice = oracle.getAssetPrice(collateralAsset);
        uint256 debtPrice = oracle.getAssetPrice(debtAsset);
        if (collateralPrice == 0) revert InvalidPrice(collateralAsset);
        if (debtPrice == 0) revert InvalidPrice(debtAsset);
        uint256 collateralUnit = 10 ** collateralReserve.decimals;
        uint256 debtUnit = 10 ** reserves[debtAsset].decimals;
        uint256 bonus = collateralReserve.liquidationBonusBps;
        uint256 baseCollateral = Math.mulDiv(debtToCover * debtPrice, collateralUnit, collateralPrice * debtUnit);
        uint256 maxCollateral = baseCollateral * bonus / PERCENTAGE_FACTOR;
        if (maxCollateral > userCollateral) {
            collateralAmount = userCollateral;
            debtAmount = Math.mulDiv(collateralAmount * collateralPrice, debtUnit * PERCENTAGE_FACTOR, debtPrice * collateralUnit * bonus);
        } else {
            collateralAmount = maxCollateral;
            debtAmount = debtToCover;
        }
        uint256 bonusPart = collateralAmount - collateralAmount * PERCENTAGE_FACTOR / bonus;
        protocolFee = bonusPart * collateralReserve.liquidationProtocolFeeBps / PERCENTAGE_FACTOR;
    }

    /// @dev Seized collateral goes to the liquidator (as underlying or as a deposit); the
    ///      protocol's share of the bonus is deposited for the treasury.
    function _payLiquidator(address collateralAsset, uint256 toLiquidator, uint256 protocolFee, bool receiveAToken)
        internal
    {
        Reserve storage r = reserves[collateralAsset];
        if (protocolFee != 0) _mintSupply(r, collateralAsset, treasury, protocolFee);
        if (receiveAToken) {
            _mintSupply(r, collateralAsset, msg.sender, toLiquidator);
            return;
        }
        if (toLiquidator > r.virtualUnderlyingBalance) revert NotEnoughLiquidity(collateralAsset, r.virtualUnderlyingBalance);
        r.virtualUnderlyingBalance -= toLiquidator;
        IERC20(collateralAsset).safeTransfer(msg.sender, toLiquidator);
    }

    /// @dev Aave v3.3 deficit: debt left on an account without collateral is bad debt.
    function _writeOffIfNoCollateral(address user) internal {
        for (uint256 i = 0; i < reservesList.length; i++) {
            address asset = reservesList[i];
            if (scaledSupplyOf[asset][user] != 0 && reserves[asset].liquidationThresholdBps != 0) return;
        }
        for (uint256 i = 0; i < reservesList.length; i++) {
            address asset = reservesList[i];
            Reserve storage r = reserves[asset];
            uint256 debt = _debtBalance(r, asset, user);
            if (debt == 0) continue;
            _accrue(asset);
            debt = _debtBalance(r, asset, user);
            _burnDebt(r, asset, user, debt, debt);
            r.deficit += debt;
            emit DeficitCreated(user, asset, debt);
        }
    }

    function _mintSupply(Reserve storage r, address asset, address user, uint256 amount) internal {
        uint256 scaled = Math.mulDiv(amount, RAY, r.liquidityIndexRay);
        scaledSupplyOf[asset][user] += scaled;
        r.totalScaledSupply += scaled;
    }

    function _burnSupply(Reserve storage r, address asset, address user, uint256 amount, uint256 balance) internal {
        uint256 scaled = amount == balance
            ? scaledSupplyOf[asset][user]
            : Math.mulDiv(amount, RAY, r.liquidityIndexRay, Math.Rounding.Ceil);
        scaledSupplyOf[asset][user] -= scaled;
        r.totalScaledSupply -= scaled;
    }

    function _burnDebt(Reserve storage r, address asset, address user, uint256 amount, uint256 debt) internal {
        uint256 scaled = amount == debt
            ? scaledDebtOf[asset][user]
            : Math.mulDiv(amount, RAY, r.variableBorrowIndexRay);
        scaledDebtOf[asset][user] -= scaled;
        r.totalScaledDebt -= scaled;
    }

    function _supplyBalance(Reserve storage r, address asset, address user) internal view returns (uint256) {
        return Math.mulDiv(scaledSupplyOf[asset][user], r.liquidityIndexRay, RAY);
    }

    function _debtBalance(Reserve storage r, address asset, address user) internal view returns (uint256) {
        return Math.mulDiv(scaledDebtOf[asset][user], r.variableBorrowIndexRay, RAY, Math.Rounding.Ceil);
    }

    function _totalSupply(Reserve storage r) internal view returns (uint256) {
        return Math.mulDiv(r.totalScaledSupply, r.liquidityIndexRay, RAY) + r.accruedToTreasury;
    }

    function _totalDebt(Reserve storage r) internal view returns (uint256) {
        return Math.mulDiv(r.totalScaledDebt, r.variableBorrowIndexRay, RAY);
    }
}
