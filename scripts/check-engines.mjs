#!/usr/bin/env node
// Fails when an installed package declares an engines.node range that the running Node
// does not satisfy (the same test npm's EBADENGINE warning makes, which npm only warns
// about). Walks node_modules, nested node_modules included, and reads each installed
// package's own package.json. The range check is the `semver` package already installed
// as a dependency (of fastify, among others), with npm's option includePrerelease.
//
// Usage: node scripts/check-engines.mjs [projectDir]   (defaults to the current directory)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, relative } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const modulesDir = join(root, 'node_modules');
const nodeVersion = process.versions.node;

if (!existsSync(modulesDir)) {
  console.error(`check-engines: no node_modules in ${root}: run npm ci first`);
  process.exit(1);
}

let semver;
try {
  semver = createRequire(join(root, 'package.json'))('semver');
} catch {
  console.error(
    'check-engines: cannot load the semver package from node_modules (it was installed as a ' +
      'dependency of fastify). Without it the engines check cannot run: add semver to ' +
      'devDependencies or update this script.',
  );
  process.exit(1);
}

const failures = [];
const unreadable = [];
let checked = 0;

function readDirNames(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

// A node_modules folder: packages, @scope/packages; hidden entries (.bin, .cache,
// .package-lock.json, .vite) are not packages.
function walkModules(dir) {
  for (const entry of readDirNames(dir)) {
    if (entry.name.startsWith('.')) continue;
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      for (const scoped of readDirNames(path)) {
        if (scoped.name.startsWith('.')) continue;
        if (scoped.isDirectory() || scoped.isSymbolicLink()) checkPackage(join(path, scoped.name));
      }
    } else {
      checkPackage(path);
    }
  }
}

function checkPackage(dir) {
  const manifestPath = join(dir, 'package.json');
  if (existsSync(manifestPath)) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch (err) {
      unreadable.push(`${relative(root, manifestPath)}: ${err.message}`);
    }
    const range = manifest?.engines?.node;
    if (typeof range === 'string' && range.trim() !== '') {
      checked++;
      let ok;
      try {
        ok = semver.satisfies(nodeVersion, range, { includePrerelease: true });
      } catch {
        ok = false;
      }
      if (!ok) {
        failures.push({
          name: manifest.name ?? relative(modulesDir, dir),
          version: manifest.version ?? '?',
          range,
          where: relative(root, dir),
        });
      }
    }
  }
  const nested = join(dir, 'node_modules');
  if (existsSync(nested)) walkModules(nested);
}

walkModules(modulesDir);

if (unreadable.length > 0) {
  console.error(`check-engines: cannot read ${unreadable.length} installed package.json file(s):`);
  for (const line of unreadable) console.error(`  ${line}`);
}

if (failures.length > 0) {
  console.error(
    `check-engines: ${failures.length} installed package(s) do not support the running Node ${nodeVersion}:`,
  );
  for (const f of failures) {
    console.error(`  ${f.name}@${f.version} requires node "${f.range}" (${f.where})`);
  }
  console.error(
    'check-engines: pin the direct dependency that pulls it in (`npm ls NAME` shows which) to a ' +
      'release whose tree supports this Node, or add an `overrides` entry in package.json for a ' +
      'compatible version once its consumer is checked to work with it.',
  );
}

if (failures.length > 0 || unreadable.length > 0) process.exit(1);
console.log(`check-engines: ${checked} installed packages declare engines.node; all accept Node ${nodeVersion}`);
