/**
 * The static files the audit page loads besides itself: uPlot's script and style sheet, from the `uplot`
 * npm package (a dependency of the proxy), served by the proxy so that the page works offline and under its
 * Content-Security-Policy (no CDN, no inline library code).
 *
 * Their addresses carry the package version, so a browser may keep them (they never change under one
 * address) while an upgrade still reaches it. They are read from node_modules on first use and kept.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface Asset { body: Buffer; contentType: string }

const FILES: Record<string, { module: string; contentType: string }> = {
  'uPlot.iife.min.js': { module: 'uplot/dist/uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { module: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
};

let version: string | undefined;
const cache = new Map<string, Asset>();

export class AssetError extends Error {}

/** The uplot package's version (part of the asset addresses). */
export function assetVersion(): string {
  if (version === undefined) {
    try {
      version = String((require('uplot/package.json') as { version: unknown }).version);
    } catch (err) {
      throw new AssetError(`the npm package uplot (the audit page's chart library) cannot be read: ${(err as Error).message}; install the proxy's dependencies (npm ci)`);
    }
  }
  return version;
}

/**
 * Where the page finds the chart library. Never throws: without the package the page still loads (its table
 * and lists work) and the asset requests answer 503 with the reason.
 */
export function pageAssets(): { script: string; style: string } {
  let v = 'missing';
  try { v = encodeURIComponent(assetVersion()); } catch { /* reported when the asset is asked for */ }
  return { script: `/audit/assets/uPlot.iife.min.js?v=${v}`, style: `/audit/assets/uPlot.min.css?v=${v}` };
}

/** The file called `name` (as in the address), undefined for any other name; AssetError when it cannot be read. */
export function readAsset(name: string): Asset | undefined {
  const f = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!f) return undefined;
  let a = cache.get(name);
  if (!a) {
    try {
      a = { body: readFileSync(require.resolve(f.module)), contentType: f.contentType };
    } catch (err) {
      throw new AssetError(`${f.module} cannot be read: ${(err as Error).message}; install the proxy's dependencies (npm ci)`);
    }
    cache.set(name, a);
  }
  return a;
}
