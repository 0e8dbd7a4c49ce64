// Compiles chain/contracts with the solc pinned in package.json and writes chain/artifacts.
// `node chain/build.js --check` compiles and fails when the committed artifacts differ.
// No network: OpenZeppelin imports are read from node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..");
const sourcesDir = path.join(__dirname, "contracts");
const artifactsDir = path.join(__dirname, "artifacts");
const emitted = ["DemoPool", "DemoOracle", "PushableAggregator", "TestToken", "RiskSteward", "Multicall3", "TimelockController"];

function findImport(importPath) {
  const candidate = path.join(root, "node_modules", importPath);
  if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  return { error: `import not found: ${importPath} (run npm ci)` };
}

function compile() {
  const sources = {};
  for (const file of fs.readdirSync(sourcesDir).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`contracts/${file}`] = { content: fs.readFileSync(path.join(sourcesDir, file), "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
      viaIR: true,
      metadata: { bytecodeHash: "none" },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    process.exit(1);
  }
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!emitted.includes(name)) continue;
      artifacts[name] = {
        contractName: name,
        sourceName: file,
        compiler: solc.version(),
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      };
    }
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  const stale = [];
  for (const name of emitted) {
    if (!artifacts[name]) throw new Error(`contract ${name} was not compiled`);
    const file = path.join(artifactsDir, `${name}.json`);
    const text = JSON.stringify(artifacts[name], null, 1) + "\n";
    const size = (artifacts[name].deployedBytecode.length - 2) / 2;
    if (check) {
      if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(name);
    } else {
      fs.mkdirSync(artifactsDir, { recursive: true });
      fs.writeFileSync(file, text);
      console.log(`${name}: ${size} bytes of runtime code`);
    }
  }
  if (check && stale.length) {
    console.error(`artifacts out of date with sources: ${stale.join(", ")} (run make contracts)`);
    process.exit(1);
  }
  if (check) console.log("artifacts match sources");
}

main();
