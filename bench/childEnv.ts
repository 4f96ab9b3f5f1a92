/**
 * A bench child process's input, from the environment its section gave it: a missing one is the
 * section's bug, so the child says which and exits rather than run on a default.
 */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`${name} must be set`);
    process.exit(1);
  }
  return value;
}
