#!/usr/bin/env node
// Command line of the sandbox payment provider: reads the configuration (README.md), starts the
// server, prints one "sandbox listening on URL" line when ready, and stops on SIGTERM/SIGINT.
import { ConfigError, load_config } from './config.mjs';
import { startSandbox } from './sandbox.mjs';

async function main() {
  let loaded;
  try {
    loaded = load_config(process.argv.slice(2), process.env);
    if (loaded.help) {
      process.stdout.write(`${loaded.help}\n`);
      return 0;
    }
    const sandbox = await startSandbox(loaded.config);
    process.stdout.write(`sandbox listening on ${sandbox.url}\n`);
    const stop = async (signal) => {
      process.stderr.write(`sandbox: ${signal}, stopping\n`);
      await sandbox.close();
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    return null;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`sandbox: configuration error: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`sandbox: cannot start: ${error.message}\n`);
    return 1;
  }
}

const code = await main();
if (code !== null) process.exit(code);
