/**
 * Administrative command line: `npm run anxin -- import FILE`.
 *
 * Exit codes: 0 done; 1 refused or failed (each problem on stderr as
 * `path: message`); 2 usage. The result goes to stdout as JSON so it can be
 * piped into whatever hands the device secrets to the installers.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.js';
import { ImportError, importDocument } from '../import/importer.js';
import { openDatabase, StoreBehindError, type Db } from '../store/sqliteDb.js';
import { DoctorInUseError, doctorInUseText, ROLE_NAMES, UserStore, type Role } from '../store/userStore.js';

const USAGE = `usage: npm run anxin -- COMMAND

  import FILE              upsert the homes, residents, gateways, devices and
                           users of a JSON document (SPEC §6), all or nothing;
                           prints the secrets it issued, once
  reset-password USERNAME  a new random password for a web user (the admin's
                           too), printed once; their sessions end
  disable-user USERNAME    the user can no longer sign in; their sessions and
                           live streams end (not the last admin)
  enable-user USERNAME     undoes disable-user
  set-role USERNAME ROLE   gives a web user another role (${ROLE_NAMES.join(', ')});
                           their sessions and live streams end (never the last
                           admin; a doctor only once no resident names them)

environment: ANXIN_DATA_DIR (default ./data), as for the hub`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'import' && args.length === 1) return runImport(args[0]!);
  if (command === 'reset-password' && args.length === 1) return withUsers((users) => resetPassword(users, args[0]!));
  if ((command === 'disable-user' || command === 'enable-user') && args.length === 1) {
    return withUsers((users) => setDisabled(users, args[0]!, command === 'disable-user'));
  }
  if (command === 'set-role' && args.length === 2) {
    const role = args[1]!;
    if (!isRole(role)) {
      process.stderr.write(`anxin: ${role} is not a role; one of ${ROLE_NAMES.join(', ')}\n`);
      return 2;
    }
    return withUsers((users) => setRole(users, args[0]!, role));
  }
  process.stderr.write(`${command === undefined ? '' : `anxin: unknown command or arguments: ${argv.join(' ')}\n`}${USAGE}\n`);
  return 2;
}

async function runImport(file: string): Promise<number> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`anxin: cannot read ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  const db = openStore();
  if (!db) return 2;
  try {
    const result = await importDocument(db, doc, { actor: 'cli' });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (result.credentials.length > 0 || result.users.length > 0) {
      process.stderr.write('anxin: the passwords above are shown only this once and stored only as hashes; hand them over now.\n');
    }
    process.stderr.write('anxin: imported. A running hub on this data directory picks the change up within 5 seconds.\n');
    return 0;
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    for (const e of err.errors) process.stderr.write(`${e.path}: ${e.message}\n`);
    process.stderr.write(`anxin: import refused (${err.errors.length} problem${err.errors.length === 1 ? '' : 's'}); nothing was written\n`);
    return 1;
  } finally {
    db.close();
  }
}


/**
 * The store the hub uses (the hub's own configuration, ANXIN_DATA_DIR), never upgraded from here:
 * a hub of the older version may be running on it. Null, said on stderr, when it is behind.
 */
function openStore(): Db | null {
  const config = loadConfig(process.env);
  try {
    return openDatabase(config.dataDir, config.sync, { upgrade: false });
  } catch (err) {
    if (!(err instanceof StoreBehindError)) throw err;
    process.stderr.write(`anxin: ${err.message}\n`);
    return null;
  }
}

/** Runs `fn` on the users of the store the hub uses (ANXIN_DATA_DIR). */
async function withUsers(fn: (users: UserStore) => Promise<number> | number): Promise<number> {
  const db = openStore();
  if (!db) return 2;
  try {
    return await fn(new UserStore(db));
  } finally {
    db.close();
  }
}

async function resetPassword(users: UserStore, username: string): Promise<number> {
  const password = await users.resetPassword(username, 'cli');
  if (password === null) {
    process.stderr.write(`anxin: no user ${username}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ username, password })}\n`);
  process.stderr.write(`anxin: ${username}'s new password is shown only this once; their sessions have ended.\n`);
  return 0;
}

function setDisabled(users: UserStore, username: string, disabled: boolean): number {
  let result: ReturnType<UserStore['setDisabled']>;
  try {
    result = users.setDisabled(username, disabled, 'cli');
  } catch (err) {
    if (!(err instanceof DoctorInUseError)) throw err;
    process.stderr.write(`anxin: ${err.message}\n`);
    return 1;
  }
  if (result === 'unknown') {
    process.stderr.write(`anxin: no user ${username}\n`);
    return 1;
  }
  if (result === 'last_admin') {
    process.stderr.write(`anxin: ${username} is the last enabled admin; enable or create another admin first\n`);
    return 1;
  }
  process.stderr.write(`anxin: ${username} ${disabled ? 'disabled; their sessions have ended' : 'enabled'}\n`);
  return 0;
}

function setRole(users: UserStore, username: string, role: Role): number {
  const result = users.update(username, { role }, 'cli');
  if (!result.ok) {
    const why = result.problem === 'unknown' ? `no user ${username}`
      : result.problem === 'last_admin' ? `${username} is the last enabled admin; make another user admin first`
      : doctorInUseText(username, result, 'role');
    process.stderr.write(`anxin: ${why}\n`);
    return 1;
  }
  if (result.changed.length === 0) process.stderr.write(`anxin: ${username} already has role ${role}\n`);
  else process.stderr.write(`anxin: ${username} is now ${role}; their sessions have ended (a running hub closes their live streams within 5 seconds)\n`);
  return 0;
}

const isRole = (s: string): s is Role => (ROLE_NAMES as readonly string[]).includes(s);

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`anxin: ${err instanceof ConfigError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
