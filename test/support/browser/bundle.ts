import path from 'node:path';
import { build } from 'esbuild';

/** The catalog page's script (catalogPage.ts and Apollo Client), bundled for the browser at test time. */
export async function bundleCatalogPage(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, 'catalogPage.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    // Apollo Client's development checks and messages: off, as in a production build.
    define: { 'process.env.NODE_ENV': '"production"', __DEV__: 'false' },
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no bundle for the catalog page');
  return output.text;
}
