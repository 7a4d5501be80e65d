export {
  type BuildLayerOptions,
  type BuildProgress,
  type BuiltLayer,
  buildLayer,
} from './build.js';
export { type DirectoryOptions, entriesFromDirectory } from './directory.js';
export {
  comparePaths,
  DEFAULT_DIR_MODE,
  DEFAULT_FILE_MODE,
  type DirEntry,
  type EntrySource,
  type FileEntry,
  type HardlinkEntry,
  type LayerEntry,
  normalizeImagePath,
  type PreparedEntry,
  prepareEntries,
  type SymlinkEntry,
} from './entries.js';
export { parseSourceDateEpoch, sourceDateEpochFromEnv } from './epoch.js';
export {
  decompressLayer,
  detectCompression,
  diffIdOf,
  type ReadTarOptions,
  readLayer,
  readTar,
  type TarCompression,
  type TarEntry,
  type TarEntryType,
  type TarHeader,
} from './read.js';
