/**
 * Artifacts: the content-addressed store, output collection and selection by glob, and input
 * resolution and materialisation. See docs/pipeline-file.md.
 */
export { ContentStore } from "./cas.js";
export { describeFsError, ensureWritableDir } from "./fs-util.js";
export { compileOutputGlobs, type PathMatcher } from "./glob.js";
export {
  type ContentHash,
  type HashCache,
  hashBytes,
  hashCacheKey,
  hashFile,
  hashFileCached,
  isSha256,
  SMALL_FILE_LIMIT,
} from "./hash.js";
export {
  type InputFile,
  materialiseInputs,
  type ResolvePatternsOptions,
  resolveWorkdirPatterns,
} from "./inputs.js";
export {
  collectOutputs,
  isContainedPath,
  type OutputFile,
  restoreOutputs,
  selectOutputs,
} from "./outputs.js";
