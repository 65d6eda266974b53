-- A blob's chunks are written under a per-upload key while its sha256 is still unknown; the blob
-- record, created last, names that key. A half-finished upload is never visible as a blob.

DEFINE FIELD chunk_key ON blob TYPE option<string>;
