import { DistillError, isDistillError } from '../../errors.js';
import { formatImageRef, parseImageRef } from '../../ref/transport.js';
import {
  generateKeyFiles,
  keySigner,
  keyVerifier,
  readPrivateKey,
  readPublicKey,
  signImage,
  verifyImage,
} from '../../sign/index.js';
import { context, ExitWith, expectPositionals, textOrJson, usage } from '../context.js';
import { passwordSource } from '../password.js';
import type { Call, Values } from '../spec.js';
import type { SIGN_OPTIONS, VERIFY_OPTIONS } from '../specs/sign.js';

type SignValues = Values<typeof SIGN_OPTIONS>;
type VerifyValues = Values<typeof VERIFY_OPTIONS>;

/** `distill sign` and `distill verify`: cosign's key-based signatures (src/sign). */
export async function run(call: Call<SignValues | VerifyValues>): Promise<number> {
  if (call.command === 'verify') return verify(call as Call<VerifyValues>);
  return sign(call as Call<SignValues>);
}

function parseAnnotations(list: string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const a of list) {
    const i = a.indexOf('=');
    if (i <= 0) throw usage(`--annotation takes KEY=VALUE, not "${a}"`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

async function generate(call: Call<SignValues>): Promise<number> {
  const v = call.values;
  expectPositionals(
    call.positionals,
    0,
    1,
    'sign --generate-key takes at most a PREFIX: distill sign --generate-key [PREFIX]',
  );
  if (v.key !== undefined || v.identity !== undefined || v.annotation !== undefined) {
    throw usage('--generate-key writes a key pair; sign with --key in another run');
  }
  const password = passwordSource(call.env, call.stderr, { confirm: true });
  if (password === undefined) {
    throw new DistillError(
      'KEY_PASSWORD_REQUIRED',
      'the new private key is encrypted with a password: set COSIGN_PASSWORD (or run in a terminal to be asked)',
    );
  }
  const files = await generateKeyFiles(call.positionals[0] ?? 'cosign', await password());
  await call.print(
    textOrJson(v.format) === 'json'
      ? JSON.stringify(files)
      : `wrote ${files.privateKey} (private, encrypted) and ${files.publicKey} (public)`,
  );
  return 0;
}

async function sign(call: Call<SignValues>): Promise<number> {
  const v = call.values;
  if (v['generate-key']) return generate(call);
  expectPositionals(
    call.positionals,
    1,
    1,
    'sign needs one image reference: distill sign REF --key cosign.key',
  );
  const format = textOrJson(v.format);
  const keyFile = v.key;
  if (keyFile === undefined) throw usage('sign needs --key FILE (or --generate-key to make a pair)');
  const ref = parseImageRef(call.positionals[0]!);
  const annotations = parseAnnotations(v.annotation);
  return reportFailure(call, format, 'signed', async () => {
    // The key first: a wrong password or a bad file fails before the registry is asked anything.
    const key = await readPrivateKey(keyFile, passwordSource(call.env, call.stderr));
    const c = await context(call);
    const r = await signImage(ref, keySigner(key), {
      ...c.media('dest'),
      ...(v.identity !== undefined && { identity: v.identity }),
      ...(annotations !== undefined && { annotations }),
    });
    c.reporter.done();
    if (format === 'json') {
      await call.print(JSON.stringify({ signed: true, reference: formatImageRef(ref), ...r }));
    } else {
      await call.print(
        r.written
          ? `signed ${formatImageRef(ref)} (${r.digest}) as ${r.identity}: ${r.attachment}`
          : `${formatImageRef(ref)} (${r.digest}) already has this key's signature in ${r.attachment}`,
      );
    }
  });
}

/**
 * Runs `work`; with --format json a user's error is also printed on stdout as
 * `{"<what>": false, "code", "message"}`, so that scripts can tell the reasons apart by code.
 */
async function reportFailure(
  call: Call<SignValues | VerifyValues>,
  format: 'text' | 'json',
  what: 'signed' | 'verified',
  work: () => Promise<void>,
): Promise<number> {
  try {
    await work();
    return 0;
  } catch (err) {
    if (format === 'json' && isDistillError(err) && err.userError) {
      await call.print(JSON.stringify({ [what]: false, code: err.code, message: err.message }));
      throw new ExitWith(1, err);
    }
    throw err;
  }
}

async function verify(call: Call<VerifyValues>): Promise<number> {
  const v = call.values;
  expectPositionals(
    call.positionals,
    1,
    1,
    'verify needs one image reference: distill verify REF --key cosign.pub',
  );
  const format = textOrJson(v.format);
  const keyFile = v.key;
  if (keyFile === undefined) throw usage('verify needs --key FILE, the public key (cosign.pub)');
  const ref = parseImageRef(call.positionals[0]!);
  return reportFailure(call, format, 'verified', async () => {
    const key = await readPublicKey(keyFile);
    const c = await context(call);
    const r = await verifyImage(ref, keyVerifier(key), c.media('src'));
    c.reporter.done();
    if (format === 'json') {
      await call.print(JSON.stringify({ verified: true, reference: formatImageRef(ref), ...r }));
    } else {
      const who = [...new Set(r.signatures.map((s) => s.identity))].join(', ');
      await call.print(`verified ${formatImageRef(ref)} (${r.digest}): signed by this key as ${who}`);
    }
  });
}
