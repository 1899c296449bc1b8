// npm postinstall, after `deno install`: point node_modules/.bin/deno at the deno binary npm installed.
//
// package.json names deno as a peer dependency, not a devDependency: `npm ci` installs it all the same, but
// `deno task` then resolves `deno` inside tasks to the running binary instead of the npm package's Node.js
// wrapper (~0.2 s per call). `deno install` rewrites node_modules/.bin without it, so `npx deno` needs this link.
"use strict";
const fs = require("fs");
const path = require("path");

const bin = path.join(__dirname, "..", "node_modules", ".bin");
const pkg = path.join(__dirname, "..", "node_modules", "deno");
fs.mkdirSync(bin, { recursive: true });
if (process.platform === "win32") {
  const exe = fs.existsSync(path.join(pkg, "deno.exe")) ? "..\\deno\\deno.exe" : null;
  const cmd = exe ? `@"%~dp0\\${exe}" %*\r\n` : `@node "%~dp0\\..\\deno\\bin.cjs" %*\r\n`;
  fs.writeFileSync(path.join(bin, "deno.cmd"), cmd);
} else {
  const target = fs.existsSync(path.join(pkg, "deno")) ? "../deno/deno" : "../deno/bin.cjs";
  const link = path.join(bin, "deno");
  try {
    fs.unlinkSync(link);
  } catch (_) {
    // not there
  }
  fs.symlinkSync(target, link);
}
