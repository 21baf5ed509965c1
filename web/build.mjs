// Builds the dashboard into OUT (default ../build/web): OUT/index.html and OUT/assets/ with
// content-hashed names (esbuild: src/main.js and everything it imports, the JavaScript SDK of
// ../clients/js/src and uPlot included, minified; its CSS likewise). Run by the CMake target
// `web` (cmake/Web.cmake), so `make` produces it; nothing built is committed.
//
//   node web/build.mjs [--out DIR]

import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(here, '..', 'build', 'web'));

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('web/build.mjs: esbuild is missing: run scripts/install-deps (npm install in web/)');
  process.exit(1);
}

const assets = join(out, 'assets');
await mkdir(assets, { recursive: true });
const result = await esbuild.build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  write: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => /^main-[A-Z0-9]+\.js$/i.test(f));
const css = outputs.find((f) => /^main-[A-Z0-9]+\.css$/i.test(f));
if (!js || !css) {
  console.error(`web/build.mjs: unexpected outputs ${outputs.join(', ')}`);
  process.exit(1);
}
// Earlier builds' files go: the server loads every file of assets/ into memory.
for (const f of await readdir(assets)) {
  if (!outputs.includes(f)) await rm(join(assets, f), { force: true });
}
const template = await readFile(join(here, 'src', 'index.html'), 'utf8');
const html = template.replaceAll('%MAIN_JS%', `assets/${js}`).replaceAll('%MAIN_CSS%', `assets/${css}`);
// Written last (and atomically enough for the build's stamp): index.html names what exists.
await writeFile(join(out, 'index.html'), html);
const size = (f) => result.metafile.outputs[Object.keys(result.metafile.outputs).find((p) => p.endsWith(f))].bytes;
console.log(`dashboard: ${out}/index.html, assets/${js} (${(size(js) / 1024).toFixed(0)} KB), assets/${css} (${(size(css) / 1024).toFixed(0)} KB)`);
