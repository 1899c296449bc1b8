/**
 * A file record: one file of a repository at a revision, as the Hub lists it and the cache keeps it.
 *
 * @module
 */

/** One file of a repository at a revision. */
export interface ModelFile {
  /** Path inside the repository, `/`-separated. */
  path: string;
  /** Size in bytes (of the real content for LFS files, not the pointer). */
  size: number;
  /** Git blob sha1 of the file (for LFS files: of the pointer). */
  oid?: string;
  /** Present when the file is stored with LFS/Xet. */
  lfs?: {
    /** sha256 of the content: the file's ETag and blob name in the cache. */
    sha256: string;
    /** Size of the content in bytes. */
    size: number;
  };
}
