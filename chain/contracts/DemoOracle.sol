// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IAggregatorV3 {
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

/// @title DemoOracle
/// @notice AaveOracle's surface: `getAssetPrice(asset)` in USD with 8 decimals, read from one
///         Chainlink-style aggregator per asset.
/// @dev As in AaveOracle, a non-positive answer is not passed on as a price: it reads as 0,
///      which the pool refuses and the agent's anomaly guard reports.
contract DemoOracle {
    /// @notice Prices are USD with 8 decimals.
    uint256 public constant BASE_CURRENCY_UNIT = 1e8;
    address public owner;
    mapping(address => address) internal sources;

    error OnlyOwner(address caller);
    error InconsistentParamsLength();

    event AssetSourceUpdated(address indexed asset, address indexed source);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Sets the aggregator of each asset (AaveOracle.setAssetSources).
    function setAssetSources(address[] calldata assets, address[] calldata feeds) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        if (assets.length != feeds.length) revert InconsistentParamsLength();
        for (uint256 i = 0; i < assets.length; i++) {
            sources[assets[i]] = feeds[i];
            emit AssetSourceUpdated(assets[i], feeds[i]);
        }
    }

    /// @notice The aggregator that prices `asset`.
    function getSourceOfAsset(address asset) external view returns (address) {
        return sources[asset];
    }

    /// @notice Price of one whole `asset` in USD, 8 decimals; 0 when the feed is missing or not positive.
    function getAssetPrice(address asset) public view returns (uint256) {
        address source = sources[asset];
        if (source == address(0)) return 0;
        (, int256 answer,,,) = IAggregatorV3(source).latestRoundData();
        return answer > 0 ? uint256(answer) : 0;
    }

    /// @notice Prices of several assets at once (AaveOracle.getAssetsPrices).
    function getAssetsPrices(address[] calldata assets) external view returns (uint256[] memory prices) {
        prices = new uint256[](assets.length);
        for (uint256 i = 0; i < assets.length; i++) {
            prices[i] = getAssetPrice(assets[i]);
        }
    }
}
