#!/usr/bin/env node
// Runs the Prisma CLI so that it also works offline. Every Prisma command first makes sure the
// native schema engine is present and downloads it if not; `generate` and `db seed` never run it,
// so pointing PRISMA_SCHEMA_ENGINE_BINARY at any executable skips that download. Migrations do not
// use the CLI at all: `npm run db:migrate` applies them (src/database/migrator.ts).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath };
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
