/** apt repositories over HTTP, verified like apt: signed InRelease, hashed indexes and packages. */
export { defaultKeysDir, loadDefaultKeys } from './keys.js';
export {
  checkValidUntil,
  parseRelease,
  type ReleaseInfo,
  readTrustedKeys,
  type SignatureReport,
  verifyInRelease,
} from './release.js';
export {
  type AptOptions,
  type AptProgress,
  AptSource,
  DEFAULT_MIRROR,
  DEFAULT_SECURITY_MIRROR,
  type DebRef,
} from './source.js';
