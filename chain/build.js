// Compiles chain/contracts with the solc pinned in package.json and writes chain/artifacts.
//
// Emitted: every deployable contract defined in chain/contracts/*.sol, and the contracts a
// file there imports by name when that file defines none of its own (Timelock.sol re-exports
// OpenZeppelin's TimelockController). A new .sol file needs no change here.
//
// `node chain/build.js --check` fails when the committed artifacts differ from what the pinned
// compiler makes of the sources. The verdict is cached under node_modules/.cache, keyed by a
// hash of everything the output depends on (compiler version and settings, this script, the
// lock file that pins OpenZeppelin and solc, every source and every committed artifact), so a
// re-run recompiles only when one of those changed. `--no-cache` forces the compile.
// `--key` prints the key. No network: imports are read from node_modules.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..");
const sourcesDir = process.env.RISK_AGENT_CONTRACTS_DIR || path.join(__dirname, "contracts");
const artifactsDir = process.env.RISK_AGENT_ARTIFACTS_DIR || path.join(__dirname, "artifacts");
const cacheFile = path.join(root, "node_modules", ".cache", "risk-agent", "contracts-check.json");

const settings = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  metadata: { bytecodeHash: "none" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"], "": ["ast"] } },
};

function findImport(importPath) {
  const candidate = path.join(root, "node_modules", importPath);
  if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  return { error: `import not found: ${importPath} (run npm ci)` };
}

function sourceFiles() {
  return fs.readdirSync(sourcesDir).filter((f) => f.endsWith(".sol")).sort();
}

function artifactFiles() {
  if (!fs.existsSync(artifactsDir)) return [];
  return fs.readdirSync(artifactsDir).filter((f) => f.endsWith(".json")).sort();
}

/** Hash of everything the check's verdict depends on. */
function checkKey() {
  const hash = crypto.createHash("sha256");
  const part = (label, text) => hash.update(`${label}\0${text.length}\0`).update(text);
  part("solc", solc.version());
  part("settings", JSON.stringify(settings));
  part("build.js", fs.readFileSync(__filename, "utf8"));
  part("package-lock.json", fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));
  for (const file of sourceFiles()) part(`source:${file}`, fs.readFileSync(path.join(sourcesDir, file), "utf8"));
  for (const file of artifactFiles()) part(`artifact:${file}`, fs.readFileSync(path.join(artifactsDir, file), "utf8"));
  return hash.digest("hex");
}

/** Names to emit, read from each of our files' AST. */
function emittedNames(output) {
  const names = new Set();
  for (const file of sourceFiles()) {
    const ast = output.sources[`contracts/${file}`].ast;
    const defined = ast.nodes.filter((n) => n.nodeType === "ContractDefinition");
    for (const node of defined) {
      if (node.contractKind === "contract" && !node.abstract) names.add(node.name);
    }
    if (defined.length === 0) {
      for (const node of ast.nodes.filter((n) => n.nodeType === "ImportDirective")) {
        for (const alias of node.symbolAliases || []) names.add(alias.foreign.name);
      }
    }
  }
  return names;
}

function compile() {
  const sources = {};
  for (const file of sourceFiles()) {
    sources[`contracts/${file}`] = { content: fs.readFileSync(path.join(sourcesDir, file), "utf8") };
  }
  const input = { language: "Solidity", sources, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    process.exit(1);
  }
  const wanted = emittedNames(output);
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!wanted.has(name)) continue;
      if (artifacts[name]) throw new Error(`two contracts named ${name} (${artifacts[name].sourceName}, ${file})`);
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
  for (const name of wanted) if (!artifacts[name]) throw new Error(`contract ${name} was not compiled`);
  return artifacts;
}

function render(artifact) {
  return JSON.stringify(artifact, null, 1) + "\n";
}

function check(useCache) {
  const key = checkKey();
  if (useCache && fs.existsSync(cacheFile)) {
    const cached = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
    if (cached.key === key && cached.match === true) {
      console.log(`artifacts match sources (cached verdict, key ${key.slice(0, 12)})`);
      return;
    }
  }
  const artifacts = compile();
  const expected = new Set(Object.keys(artifacts).map((name) => `${name}.json`));
  const stale = [];
  for (const [name, artifact] of Object.entries(artifacts)) {
    const file = path.join(artifactsDir, `${name}.json`);
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== render(artifact)) stale.push(name);
  }
  const extra = artifactFiles().filter((f) => !expected.has(f));
  if (stale.length || extra.length) {
    if (stale.length) console.error(`artifacts out of date with sources: ${stale.join(", ")} (run make contracts)`);
    if (extra.length) console.error(`artifacts without a source: ${extra.join(", ")} (run make contracts)`);
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  fs.writeFileSync(cacheFile, JSON.stringify({ key, match: true }) + "\n");
  console.log("artifacts match sources");
}

function build() {
  const artifacts = compile();
  fs.mkdirSync(artifactsDir, { recursive: true });
  const expected = new Set();
  for (const [name, artifact] of Object.entries(artifacts).sort()) {
    fs.writeFileSync(path.join(artifactsDir, `${name}.json`), render(artifact));
    expected.add(`${name}.json`);
    console.log(`${name}: ${(artifact.deployedBytecode.length - 2) / 2} bytes of runtime code`);
  }
  for (const file of artifactFiles()) {
    if (!expected.has(file)) {
      fs.unlinkSync(path.join(artifactsDir, file));
      console.log(`${file}: removed (no source defines it)`);
    }
  }
}

if (process.argv.includes("--key")) console.log(checkKey());
else if (process.argv.includes("--check")) check(!process.argv.includes("--no-cache"));
else build();
