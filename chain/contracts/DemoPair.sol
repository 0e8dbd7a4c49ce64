// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title DemoPair
/// @notice A Uniswap-v2-style constant-product pair for the demo market: the same read ABI as
///         a real v2 pair (`token0`, `token1`, `getReserves`, `sync`, `swap`), so the reader and
///         a keeper work unchanged against Uniswap v2. The demo replays historical reserves by
///         transferring tokens in and calling `setReserves`, which returns any excess to the owner.
/// @dev Invariants: token0 < token1 (by address, as in v2); after every external call the
///      reserves equal the pair's balances; a swap never lowers reserve0 * reserve1 once the
///      0.3% fee is charged on the input (v2's K check).
contract DemoPair {
    using SafeERC20 for IERC20;

    /// @notice Swap fee in thousandths of the input amount (3 = 0.3%, as Uniswap v2).
    uint256 public constant FEE_PER_THOUSAND = 3;

    address public immutable token0;
    address public immutable token1;
    address public owner;

    uint112 private reserve0;
    uint112 private reserve1;
    uint32 private blockTimestampLast;

    error OnlyOwner(address caller);
    error IdenticalTokens(address token);
    error InsufficientOutputAmount();
    error InsufficientLiquidity(uint256 amount0Out, uint256 amount1Out, uint112 reserve0, uint112 reserve1);
    error InvalidRecipient(address to);
    error InsufficientInputAmount();
    error ConstantProductViolated(uint256 balanceProductAdjusted, uint256 reserveProductAdjusted);
    error BalanceBelowTarget(address token, uint256 balance, uint256 target);
    error ReserveOverflow(uint256 balance0, uint256 balance1);

    /// @notice Emitted whenever the reserves change (v2's event).
    event Sync(uint112 reserve0, uint112 reserve1);
    /// @notice Emitted by every swap (v2's event).
    event Swap(
        address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to
    );
    /// @notice Emitted when the owner sets the reserves for a replayed point of history.
    event ReservesSet(uint112 reserve0, uint112 reserve1);

    /// @param tokenA One of the pair's tokens (the two are sorted by address, as v2 does).
    /// @param tokenB The other token.
    constructor(address tokenA, address tokenB) {
        if (tokenA == tokenB) revert IdenticalTokens(tokenA);
        (token0, token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        owner = msg.sender;
    }

    /// @notice Uniswap v2's reserves (raw token units) and the time they were last updated.
    function getReserves() external view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, blockTimestampLast);
    }

    /// @notice Sets the reserves to the pair's current balances (anyone; v2's `sync`).
    function sync() external {
        _update(IERC20(token0).balanceOf(address(this)), IERC20(token1).balanceOf(address(this)));
    }

    /// @notice Sets exact reserves (raw units): tokens short of a target must have been
    ///         transferred in first; balance above a target is sent to the owner.
    function setReserves(uint112 target0, uint112 target1) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        _trimTo(token0, target0);
        _trimTo(token1, target1);
        _update(target0, target1);
        emit ReservesSet(target0, target1);
    }

    /// @notice Hands the pair to a new owner (the demo's market keeper).
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        owner = newOwner;
    }

    /// @notice Uniswap v2's swap without the flash callback: the input must already have been
    ///         transferred to the pair; sends the outputs to `to` and checks the fee-adjusted K.
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata) external {
        if (amount0Out == 0 && amount1Out == 0) revert InsufficientOutputAmount();
        (uint112 r0, uint112 r1) = (reserve0, reserve1);
        if (amount0Out >= r0 || amount1Out >= r1) revert InsufficientLiquidity(amount0Out, amount1Out, r0, r1);
        if (to == token0 || to == token1) revert InvalidRecipient(to);
        if (amount0Out > 0) IERC20(token0).safeTransfer(to, amount0Out);
        if (amount1Out > 0) IERC20(token1).safeTransfer(to, amount1Out);
        uint256 balance0 = IERC20(token0).balanceOf(address(this));
        uint256 balance1 = IERC20(token1).balanceOf(address(this));
        uint256 amount0In = balance0 > r0 - amount0Out ? balance0 - (r0 - amount0Out) : 0;
        uint256 amount1In = balance1 > r1 - amount1Out ? balance1 - (r1 - amount1Out) : 0;
        if (amount0In == 0 && amount1In == 0) revert InsufficientInputAmount();
        uint256 adjusted0 = balance0 * 1000 - amount0In * FEE_PER_THOUSAND;
        uint256 adjusted1 = balance1 * 1000 - amount1In * FEE_PER_THOUSAND;
        uint256 reserveProduct = uint256(r0) * uint256(r1) * 1000 ** 2;
        if (adjusted0 * adjusted1 < reserveProduct) revert ConstantProductViolated(adjusted0 * adjusted1, reserveProduct);
        _update(balance0, balance1);
        emit Swap(msg.sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    function _trimTo(address token, uint256 target) private {
        uint256 balance = IERC20(token).balanceOf(address(this));
        if (balance < target) revert BalanceBelowTarget(token, balance, target);
        if (balance > target) IERC20(token).safeTransfer(owner, balance - target);
    }

    function _update(uint256 balance0, uint256 balance1) private {
        if (balance0 > type(uint112).max || balance1 > type(uint112).max) revert ReserveOverflow(balance0, balance1);
        reserve0 = uint112(balance0);
        reserve1 = uint112(balance1);
        blockTimestampLast = uint32(block.timestamp);
        emit Sync(reserve0, reserve1);
    }
}
