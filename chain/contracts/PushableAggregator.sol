// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PushableAggregator
/// @notice A Chainlink AggregatorV3-compatible price feed whose rounds are pushed by its owner,
///         so demos and tests can replay real price history on chain.
/// @dev Invariants: round ids start at 1 and increase by one; a round's updatedAt never
///      exceeds the block time it was pushed in and never decreases from round to round.
contract PushableAggregator {
    /// @dev One storage slot per round (replaying months of hourly history costs 22k gas a round).
    struct Round {
        int192 answer;
        uint64 updatedAt;
    }

    /// @notice Answers carry this many decimals (8, as Chainlink USD feeds).
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    address public owner;
    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    error OnlyOwner(address caller);
    error NoDataPresent();
    error TimestampNotMonotonic(uint256 previous, uint256 given);
    error TimestampInFuture(uint256 given, uint256 blockTime);
    error AnswerOutOfRange(int256 answer);
    error LengthMismatch(uint256 answers, uint256 timestamps);

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        _push(initialAnswer, block.timestamp);
    }

    /// @notice Pushes a new round stamped with the current block time.
    function pushAnswer(int256 answer) external returns (uint80 roundId) {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        return _push(answer, block.timestamp);
    }

    /// @notice Pushes a new round with an explicit `updatedAt` (seconds), for replaying history.
    function pushRound(int256 answer, uint256 updatedAt) external returns (uint80 roundId) {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        if (updatedAt > block.timestamp) revert TimestampInFuture(updatedAt, block.timestamp);
        return _push(answer, updatedAt);
    }

    /// @notice Pushes many historical rounds at once (oldest first), as `pushRound` would one by one.
    function pushRounds(int256[] calldata answers, uint256[] calldata updatedAts) external returns (uint80 lastRoundId) {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        if (answers.length != updatedAts.length) revert LengthMismatch(answers.length, updatedAts.length);
        for (uint256 i = 0; i < answers.length; i++) {
            if (updatedAts[i] > block.timestamp) revert TimestampInFuture(updatedAts[i], block.timestamp);
            lastRoundId = _push(answers[i], updatedAts[i]);
        }
    }

    /// @notice Hands the feed to a new owner.
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        owner = newOwner;
    }

    /// @notice Chainlink AggregatorV3Interface.latestRoundData.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }

    /// @notice Chainlink AggregatorV3Interface.getRoundData; reverts for a round never pushed.
    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory round = rounds[roundId];
        if (round.updatedAt == 0) revert NoDataPresent();
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }

    /// @notice Chainlink legacy view.
    function latestAnswer() external view returns (int256) {
        return rounds[latestRound].answer;
    }

    function _push(int256 answer, uint256 updatedAt) internal returns (uint80 roundId) {
        uint256 previous = rounds[latestRound].updatedAt;
        if (updatedAt < previous) revert TimestampNotMonotonic(previous, updatedAt);
        if (answer > type(int192).max || answer < type(int192).min) revert AnswerOutOfRange(answer);
        roundId = latestRound + 1;
        latestRound = roundId;
        rounds[roundId] = Round(int192(answer), uint64(updatedAt));
        emit NewRound(roundId, msg.sender, updatedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}
